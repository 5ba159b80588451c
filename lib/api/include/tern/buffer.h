#pragma once
// Public: the move-only owner of an rte_mbuf chain, so who frees a packet is
// visible in every signature. `rte_mbuf` stays the one packet buffer
// everywhere, in the stack and in applications (DESIGN.md "Packet buffers").
// DPDK 22.11's headers are not C++20-clean (rte_spinlock.h increments a
// volatile: -Wvolatile); an application's own warnings stay on.
#pragma GCC diagnostic push
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Wdeprecated-volatile"
#else
#pragma GCC diagnostic ignored "-Wvolatile"
#endif
#include <rte_mbuf.h>
#include <rte_mempool.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace tern {

// Bytes of packet buffer charged to whoever holds them: the engine's
// per-worker account (MemAccount) is one. A chain the stack hands to the
// application (on_data, recv()) stays charged to its worker, in truesize
// (sizeof(rte_mbuf) plus each segment's whole data room), until the Buffer
// holding it frees it, releases it or passes it to send(), so the worker's
// memory levels see what applications hold (docs/architecture.md "Memory
// model").
class BufferAccount {
 public:
  void charge(std::uint32_t bytes) noexcept {
    charged_ += bytes;
    if (charged_ > peak_) peak_ = charged_;
  }
  void uncharge(std::uint32_t bytes) noexcept { charged_ -= bytes; }
  std::uint64_t charged() const noexcept { return charged_; }
  std::uint64_t peak() const noexcept { return peak_; }

 protected:
  std::uint64_t charged_ = 0;
  std::uint64_t peak_ = 0;
};

// The stack's owner of a chain: one pointer, so moving frames through the
// layers costs what moving the pointer costs.
class Mbuf {
 public:
  Mbuf() noexcept = default;
  explicit Mbuf(rte_mbuf* m) noexcept : m_(m) {}
  Mbuf(const Mbuf&) = delete;
  Mbuf& operator=(const Mbuf&) = delete;
  Mbuf(Mbuf&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Mbuf& operator=(Mbuf&& o) noexcept {
    if (this != &o) reset(std::exchange(o.m_, nullptr));
    return *this;
  }
  ~Mbuf() { reset(); }

  static Mbuf alloc(rte_mempool* pool) noexcept { return Mbuf{rte_pktmbuf_alloc(pool)}; }

  // rte_pktmbuf_free(m), with its common case inline: a direct, unshared
  // mbuf with no next segment (a received segment's frame, the chain an
  // application's read of a small message hands over) goes straight back
  // to its pool's per-lcore cache, as rte_pktmbuf_prefree_seg then
  // rte_mbuf_raw_free would do with it; any other chain takes DPDK's
  // out-of-line walk. The mbuf must go back as rte_mbuf_raw_alloc hands it
  // out (refcnt 1, one segment, no next), so a head whose nb_segs
  // disagrees takes the walk too. m must not be null.
  static void free(rte_mbuf* m) noexcept {
    if (m->next == nullptr && m->nb_segs == 1 && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m))
        [[likely]] {
      rte_mbuf_raw_free(m);
      return;
    }
    rte_pktmbuf_free(m);
  }

  void reset(rte_mbuf* m = nullptr) noexcept {
    if (m_ != nullptr) free(m_);
    m_ = m;
  }
  [[nodiscard]] rte_mbuf* release() noexcept { return std::exchange(m_, nullptr); }
  rte_mbuf* get() const noexcept { return m_; }
  rte_mbuf* operator->() const noexcept { return m_; }
  explicit operator bool() const noexcept { return m_ != nullptr; }

  // The first segment's bytes. Receive paths linearise headers into it.
  std::span<const std::byte> head() const noexcept {
    return {rte_pktmbuf_mtod(m_, const std::byte*), rte_pktmbuf_data_len(m_)};
  }
  std::span<std::byte> head_mut() noexcept {
    return {rte_pktmbuf_mtod(m_, std::byte*), rte_pktmbuf_data_len(m_)};
  }
  std::uint32_t pkt_len() const noexcept { return rte_pktmbuf_pkt_len(m_); }

  // Appends n bytes to the last segment; empty span when there is no room.
  std::span<std::byte> append(std::uint16_t n) noexcept {
    auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m_, n));
    return p == nullptr ? std::span<std::byte>{} : std::span<std::byte>{p, n};
  }
  // Prepends n bytes of headroom; empty span when there is no room.
  std::span<std::byte> prepend(std::uint16_t n) noexcept {
    auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_prepend(m_, n));
    return p == nullptr ? std::span<std::byte>{} : std::span<std::byte>{p, n};
  }

 private:
  rte_mbuf* m_ = nullptr;
};

// The application's owner of a chain (api::Buffer): an Mbuf that may also
// carry a charge to its worker's account. Chains the stack hands over
// (on_data, recv()) come charged; the charge ends when this Buffer frees or
// releases its chain through its own reset() / release(), is assigned
// another, or is destroyed. (A chain moved out into a plain Mbuf leaves the
// charge here until then; the API's send() ends it at once.)
class Buffer : public Mbuf {
 public:
  Buffer() noexcept = default;
  explicit Buffer(rte_mbuf* m) noexcept : Mbuf(m) {}
  Buffer(Mbuf&& m) noexcept : Mbuf(std::move(m)) {}  // NOLINT: an uncharged chain
  Buffer(Buffer&& o) noexcept
      : Mbuf(std::move(o)), acct_(std::exchange(o.acct_, nullptr)), charge_(std::exchange(o.charge_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset(o.Mbuf::release());
      acct_ = std::exchange(o.acct_, nullptr);
      charge_ = std::exchange(o.charge_, 0);
    }
    return *this;
  }
  ~Buffer() { end_charge(); }

  static Buffer alloc(rte_mempool* pool) noexcept { return Buffer{rte_pktmbuf_alloc(pool)}; }

  // Frees the chain held (ending its charge) and holds `m`, uncharged.
  void reset(rte_mbuf* m = nullptr) noexcept {
    end_charge();
    Mbuf::reset(m);
  }
  // Gives the chain up, and with it the charge: its new owner accounts for it.
  [[nodiscard]] rte_mbuf* release() noexcept {
    end_charge();
    return Mbuf::release();
  }
  // Charges `bytes` to `a` for as long as this Buffer holds its chain
  // (replaces an earlier charge).
  void charge_to(BufferAccount& a, std::uint32_t bytes) noexcept {
    end_charge();
    a.charge(bytes);
    acct_ = &a;
    charge_ = bytes;
  }
  BufferAccount* account() const noexcept { return acct_; }
  std::uint32_t charged() const noexcept { return charge_; }

 private:
  void end_charge() noexcept {
    if (acct_ == nullptr) return;
    acct_->uncharge(charge_);
    acct_ = nullptr;
    charge_ = 0;
  }

  BufferAccount* acct_ = nullptr;
  std::uint32_t charge_ = 0;
};

}  // namespace tern
