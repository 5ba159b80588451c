#pragma once
// Tern's own netem, in the port layer (the kernel here has no netem qdisc):
// wraps any Port and, seeded and per queue, drops, duplicates and reorders
// frames in both directions. Used by interop and soak tests to exercise
// recovery against a real peer. Not for production traffic.
#include <rte_mempool.h>

#include <array>
#include <memory>

#include "config/config.h"
#include "port/port.h"
#include "port/tx_backlog.h"

namespace tern {

struct ImpairmentCounts {
  std::uint64_t dropped = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
};

class ImpairedPort final : public Port {
 public:
  static constexpr std::uint16_t kMaxQueues = 16;
  // `pools[q]` supplies the copies made for duplicates on queue q.
  ImpairedPort(std::unique_ptr<Port> inner, const ImpairmentConfig& cfg, std::vector<rte_mempool*> pools);
  ~ImpairedPort() override;

  std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  const ImpairmentCounts& counts(std::uint16_t queue) const noexcept { return dirs_[queue].counts; }

 private:
  struct Direction {  // one per queue; RX and TX share it (one worker owns a queue)
    std::uint64_t rng = 0;
    rte_mbuf* held_rx = nullptr;  // frame held back to be delivered after the next one
    rte_mbuf* held_tx = nullptr;
    // Impaired frames the inner port refused (its ring full), sent before
    // anything new.
    TxBacklog<512> backlog;
    ImpairmentCounts counts;
  };
  // Applies loss / duplication / reordering to pkts[0..n) in place; returns the new count.
  std::uint16_t impair(Direction& d, rte_mbuf*& held, rte_mbuf** pkts, std::uint16_t n, std::uint16_t cap,
                       rte_mempool* pool) noexcept;
  double uniform(Direction& d) noexcept;

  std::unique_ptr<Port> inner_;
  ImpairmentConfig cfg_;
  std::vector<rte_mempool*> pools_;
  std::array<Direction, kMaxQueues> dirs_{};
};

}  // namespace tern
