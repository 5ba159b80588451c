#include "sim_link.h"

#include <algorithm>

namespace tern {

// Rates times durations overflow 64 bits (1 Gb/s * 20 s); GCC's 128-bit integer is exact.
__extension__ typedef unsigned __int128 U128;

SimLink::SimLink(LinkParams ab, LinkParams ba, std::uint64_t seed, std::size_t max_in_flight)
    : dirs_{Direction{ab, SimRng{seed ^ 0xA5A5'0000'0000'0001ull}, Instant{}, {}},
            Direction{ba, SimRng{seed ^ 0x5A5A'0000'0000'0002ull}, Instant{}, {}}},
      max_in_flight_(max_in_flight) {
  heap_.reserve(max_in_flight_);
}

SimLink::~SimLink() {
  for (const Event& e : heap_) rte_pktmbuf_free(e.m);
}

bool SimLink::push(Instant at, Side to, rte_mbuf* m) noexcept {
  if (heap_.size() == max_in_flight_) return false;
  heap_.push_back(Event{at, next_seq_++, to, m});
  std::push_heap(heap_.begin(), heap_.end(), later);
  return true;
}

SimLink::Event SimLink::pop() noexcept {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Event e = heap_.back();
  heap_.pop_back();
  return e;
}

bool SimLink::shares_data(const rte_mbuf* m) noexcept {
  for (; m != nullptr; m = m->next) {
    if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1) return true;
  }
  return false;
}

void SimLink::corrupt_byte(rte_mbuf* m, std::uint64_t pos_draw, std::uint8_t mask) noexcept {
  const std::uint32_t len = rte_pktmbuf_pkt_len(m);
  constexpr std::uint32_t kEthHeader = 14;
  if (len <= kEthHeader) return;
  std::uint32_t pos = kEthHeader + static_cast<std::uint32_t>(pos_draw % (len - kEthHeader));
  for (rte_mbuf* s = m; s != nullptr; s = s->next) {
    if (pos < s->data_len) {
      auto* p = rte_pktmbuf_mtod_offset(s, std::uint8_t*, pos);
      *p = static_cast<std::uint8_t>(*p ^ mask);
      return;
    }
    pos -= s->data_len;
  }
}

std::uint64_t SimLink::queued_bytes(Side from, Instant now) const noexcept {
  const Direction& d = dirs_[idx(from)];
  if (d.busy_until <= now) return 0;
  const auto backlog_ns = static_cast<U128>((d.busy_until - now).count_ns());
  return static_cast<std::uint64_t>(backlog_ns * d.p.rate_bps / 8'000'000'000u);
}

void SimLink::send(Side from, Mbuf frame, Instant now) noexcept {
  Direction& d = dirs_[idx(from)];
  ++d.counts.sent;
  const std::uint32_t len = frame.pkt_len();
  // Every frame draws the same random numbers whatever the parameters, so
  // changing one probability does not reshuffle the others' outcomes.
  const double u_loss = d.rng.uniform();
  const double u_dup = d.rng.uniform();
  const double u_reorder = d.rng.uniform();
  const std::uint64_t jitter_draw = d.rng.next();
  const double u_corrupt = d.rng.uniform();
  const std::uint64_t pos_draw = d.rng.next();
  const auto mask = static_cast<std::uint8_t>(1 + d.rng.below(255));

  // Bytes waiting in the queue: what the serialiser still has to send.
  const Instant start = std::max(now, d.busy_until);
  const auto backlog_ns = static_cast<U128>((start - now).count_ns());
  const auto backlog_bytes = static_cast<std::uint64_t>(backlog_ns * d.p.rate_bps / 8'000'000'000u);
  if (backlog_bytes + len > d.p.queue_limit_bytes) {
    ++d.counts.dropped_queue;
    return;
  }
  const auto tx_ns = static_cast<std::int64_t>(static_cast<U128>(len) * 8'000'000'000u / d.p.rate_bps);
  d.busy_until = start + Duration::ns(tx_ns);
  Instant at = d.busy_until + d.p.delay;

  if (u_loss < d.p.loss) {
    ++d.counts.lost;
    return;
  }
  if (u_reorder < d.p.reorder) {
    ++d.counts.reordered;
    const auto bound = static_cast<std::uint64_t>(d.p.reorder_delay.count_ns());
    at = at + Duration::ns(static_cast<std::int64_t>(jitter_draw % (bound + 1)));
  }
  if (d.p.batch > Duration{}) {
    const std::int64_t b = d.p.batch.count_ns();
    at = Instant::from_ns((at.ns_since_epoch() + b - 1) / b * b);
  }
  if (u_corrupt < d.p.corrupt) {
    // Never write into bytes another mbuf shares: a TCP segment's payload is
    // an indirect mbuf over the sender's send queue, and flipping a byte there
    // would corrupt the data it retransmits later (with a valid checksum).
    if (shares_data(frame.get())) {
      Mbuf copy{rte_pktmbuf_copy(frame.get(), frame->pool, 0, UINT32_MAX)};
      if (!copy) {
        ++d.counts.dropped_queue;
        return;
      }
      frame = std::move(copy);
    }
    ++d.counts.corrupted;
    corrupt_byte(frame.get(), pos_draw, mask);
  }
  const Side to = other(from);
  if (u_dup < d.p.duplicate) {
    rte_mbuf* copy = rte_pktmbuf_copy(frame.get(), frame->pool, 0, UINT32_MAX);
    if (copy != nullptr) {
      if (push(at, to, copy)) {
        ++d.counts.duplicated;
      } else {
        rte_pktmbuf_free(copy);
      }
    }
  }
  rte_mbuf* m = frame.release();
  if (!push(at, to, m)) {
    ++d.counts.dropped_queue;
    rte_pktmbuf_free(m);
  }
}

}  // namespace tern
