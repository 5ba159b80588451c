#pragma once
// TCP segmentation in software just before a port that offers none ([port]
// gso), as Linux's GSO segments a TSO-sized skb just before a device
// without TSO: TCP, IP and the worker then handle one super-segment (up to
// 64 KB of whole MSS, TcpStackOptions::tso_max) where they would handle one
// frame per MSS, and only the wire frames are cut here (SoftwareTso: DPDK's
// rte_gso for TCP/IPv4, a copy for TCP/IPv6), with both checksums computed.
// It sits outside ImpairedPort, so impairment, like a real path, meets wire
// frames. Frames without RTE_MBUF_F_TX_TCP_SEG pass as they are.
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/counters.h"
#include "ip/software_tso.h"
#include "port/port.h"
#include "port/tx_backlog.h"

namespace tern {

class GsoPort final : public Port {
 public:
  static constexpr std::uint16_t kMaxQueues = 16;
  // `pools[q]` gives queue q's wire frames their mbufs: the headers' and
  // those that attach each frame's part of the payload (rte_gso's direct
  // and indirect mbufs; the worker's own pool, so that a shared pool of
  // indirect mbufs cannot run dry under several workers' bulk sends).
  GsoPort(std::unique_ptr<Port> inner, const std::vector<rte_mempool*>& pools);
  ~GsoPort() override = default;

  std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override {
    return inner_->rx_burst(queue, pkts, n);
  }
  // Takes frames while their wire frames fit the queue's room; what the
  // inner port refuses of those is kept and sent first next time, and until
  // it has gone nothing new is taken (the worker keeps its frames, as a
  // full ring makes it).
  std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  // Where queue q counts GsoSegments, GsoFrames and GsoNoMbufs: its
  // worker's counters (the worker that owns queue q; the runtime attaches
  // them once the workers exist). Until then nothing is counted.
  void attach_counters(std::uint16_t queue, Counters* c) noexcept { queues_[queue].counters = c; }

 private:
  // The most wire frames one super-segment makes: 65,455 bytes at the
  // smallest MSS TCP uses with TSO (536, RFC 9293 §3.7.1) is 123.
  static constexpr std::uint16_t kMaxWireFrames = 128;
  struct Queue {
    std::unique_ptr<SoftwareTso> tso;
    TxBacklog<2 * kMaxWireFrames> backlog;
    Counters* counters = nullptr;
  };

  std::unique_ptr<Port> inner_;
  std::array<Queue, kMaxQueues> queues_;
};

}  // namespace tern
