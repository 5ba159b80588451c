#pragma once
// One run-to-completion worker: polls its RX queue, steers frames it does not
// own to their owner, runs the protocol layers, fires timers and transmits,
// all on one lcore with no locks. The clock is read once per iteration.
#include <rte_ring.h>

#include <array>
#include <memory>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "port/port.h"

namespace tern {

class Worker {
 public:
  static constexpr std::uint16_t kMaxBurst = 512;

  Worker(std::uint16_t id, std::uint16_t workers, Port& port, const IpSettings& ip, rte_mempool* pool,
         rte_mempool* indirect_pool, std::uint16_t burst);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Rings between workers: `inbox[from]` carries frames worker `from` received
  // for this worker (SPSC). Wired up by the runtime before any worker runs.
  void set_inbox(std::uint16_t from, rte_ring* ring) noexcept { inbox_[from] = ring; }
  void set_outbox(std::uint16_t to, rte_ring* ring) noexcept { outbox_[to] = ring; }

  // One loop iteration; returns how many frames it handled (0 = idle).
  unsigned poll_once(Instant now) noexcept;
  // Pushes everything queued for transmission to the port.
  void flush() noexcept;

  std::uint16_t id() const noexcept { return id_; }
  const Counters& counters() const noexcept { return counters_; }
  IpLayer& ip() noexcept { return *ip_; }
  FrameQueue& tx_queue() noexcept { return tx_; }

 private:
  void handle(rte_mbuf* m, Instant now) noexcept;
  void forward(rte_mbuf* m, std::uint16_t to) noexcept;
  static void drain_cb(void* self, FrameQueue& q) noexcept;

  std::uint16_t id_;
  std::uint16_t workers_;
  std::uint16_t burst_;
  Port& port_;
  bool software_steering_;
  Counters counters_;
  std::unique_ptr<IpLayer> ip_;
  FrameQueue tx_;
  std::vector<rte_ring*> inbox_;
  std::vector<rte_ring*> outbox_;
  std::array<rte_mbuf*, kMaxBurst> rx_{};
};

}  // namespace tern
