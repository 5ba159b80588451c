#pragma once
// Public: the move-only owner of an rte_mbuf chain, so who frees a packet is
// visible in every signature. `rte_mbuf` stays the one packet buffer
// everywhere, in the stack and in applications (DESIGN.md "Packet buffers").
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace tern {

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

  void reset(rte_mbuf* m = nullptr) noexcept {
    if (m_ != nullptr) rte_pktmbuf_free(m_);
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

}  // namespace tern
