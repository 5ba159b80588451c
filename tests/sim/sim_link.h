#pragma once
// A simulated point-to-point Ethernet link between two endpoints A and B, on
// virtual time (issue 3). Each direction has its own parameters and its own
// seeded PRNG, so a run is a pure function of (parameters, seed, inputs).
//
// Per direction, a frame handed to send():
//   1. is tail-dropped (dropped_queue) if the bytes still waiting to be
//      serialised plus this frame exceed queue_limit_bytes;
//   2. departs when the previous frame finished serialising at rate_bps, and
//      arrives `delay` later;
//   3. is lost in flight with probability `loss`;
//   4. gets an extra delay, uniform in [0, reorder_delay], with probability
//      `reorder`, so it may be overtaken by later frames (reordered);
//   5. has one random byte past the Ethernet header XORed with a random
//      non-zero value with probability `corrupt` (corrupted). The Ethernet
//      header is spared: on a real link the FCS covers it, while the
//      simulator's point is to exercise the IPv4/ICMP/TCP checksums. ARP has
//      no checksum: turn corruption on once ARP is resolved (set_params);
//   6. is delivered twice with probability `duplicate` (a copy from the
//      frame's own pool; duplicated);
//   7. with `batch` > 0, arrives at the next multiple of `batch` (virtual
//      time since the start) at or after that: a receiver that polls every
//      `batch` and takes what came meanwhile in one receive burst, as a
//      software bridge or a sleeping poller hands it (TcpSim delivers such
//      frames between the stack's begin_burst and end_burst).
//
// Storage: an event min-heap of capacity `max_in_flight` frames, reserved at
// construction; send() and deliver_until() never allocate from the heap (a
// duplicate takes one mbuf). A frame that finds the heap full is counted
// under dropped_queue. Frames still in flight are freed by the destructor.
#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/instant.h"
#include "base/mbuf.h"

namespace tern {

enum class Side : std::uint8_t { kA = 0, kB = 1 };
constexpr Side other(Side s) noexcept { return s == Side::kA ? Side::kB : Side::kA; }

struct LinkParams {
  std::uint64_t rate_bps = 1'000'000'000;
  Duration delay = Duration{};
  std::size_t queue_limit_bytes = 1 << 20;
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;  // probability of an extra delay so a frame overtakes / is overtaken
  double corrupt = 0;  // probability of one flipped byte: must be caught by checksums
  Duration reorder_delay = Duration::ms(1);  // bound of the extra delay of a reordered frame
  Duration batch = Duration{};               // > 0: arrivals gathered into bursts (step 7)
};

struct LinkCounts {
  std::uint64_t sent = 0;  // frames handed to send()
  std::uint64_t delivered = 0;
  std::uint64_t dropped_queue = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t reordered = 0;
  bool operator==(const LinkCounts&) const = default;
};

// splitmix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough statistics.
class SimRng {
 public:
  explicit SimRng(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t s_;
};

class SimLink {
 public:
  static constexpr std::size_t kDefaultMaxInFlight = 8192;

  SimLink(LinkParams ab, LinkParams ba, std::uint64_t seed, std::size_t max_in_flight = kDefaultMaxInFlight);
  ~SimLink();
  SimLink(const SimLink&) = delete;
  SimLink& operator=(const SimLink&) = delete;

  // Takes the frame sent by `from` at `now` (now must not go backwards).
  void send(Side from, Mbuf frame, Instant now) noexcept;

  // Hands every frame arriving at or before `now` to fn(Side to, Mbuf), in
  // arrival order (ties in send order). fn may call send().
  template <class Fn>
  void deliver_until(Instant now, Fn&& fn) {
    while (!heap_.empty() && heap_.front().at <= now) {
      Event e = pop();
      ++dir(other(e.to)).delivered;
      fn(e.to, Mbuf{e.m});
    }
  }

  // The arrival time of the next frame; Instant::max() when none is in flight.
  Instant next_event() const noexcept { return heap_.empty() ? Instant::max() : heap_.front().at; }
  std::size_t in_flight() const noexcept { return heap_.size(); }
  // Bytes waiting in `from`'s queue at `now` (not yet serialised).
  std::uint64_t queued_bytes(Side from, Instant now) const noexcept;

  // Counts of the direction whose sender is `from`.
  const LinkCounts& counts(Side from) const noexcept { return dirs_[idx(from)].counts; }
  const LinkParams& params(Side from) const noexcept { return dirs_[idx(from)].p; }
  // Changes a direction's parameters from now on (frames in flight keep theirs).
  void set_params(Side from, const LinkParams& p) noexcept { dirs_[idx(from)].p = p; }

 private:
  struct Event {
    Instant at;
    std::uint64_t seq;
    Side to;
    rte_mbuf* m;
  };
  struct Direction {
    LinkParams p;
    SimRng rng;
    Instant busy_until;  // when the serialiser finishes the last accepted frame
    LinkCounts counts;
  };
  static constexpr std::size_t idx(Side s) noexcept { return static_cast<std::size_t>(s); }
  LinkCounts& dir(Side from) noexcept { return dirs_[idx(from)].counts; }
  static bool later(const Event& x, const Event& y) noexcept {
    return x.at != y.at ? x.at > y.at : x.seq > y.seq;
  }
  bool push(Instant at, Side to, rte_mbuf* m) noexcept;
  Event pop() noexcept;
  // Whether any segment is indirect or has another reference.
  static bool shares_data(const rte_mbuf* m) noexcept;
  static void corrupt_byte(rte_mbuf* m, std::uint64_t pos_draw, std::uint8_t mask) noexcept;

  std::array<Direction, 2> dirs_;
  std::vector<Event> heap_;
  std::size_t max_in_flight_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace tern
