#pragma once
// A connection's congestion controller, chosen at run time per connection
// (`[tcp] congestion`, api::Connection::set_congestion; Linux's
// tcp_congestion_control and TCP_CONGESTION): a std::variant of the
// controllers (congestion.h: each alternative's calls are direct and
// inline; the only dispatch is the one index test per call).
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <variant>

#include "config/config.h"
#include "tcp/cc/bbr.h"
#include "tcp/cc/congestion.h"
#include "tcp/cc/cubic.h"
#include "tcp/cc/newreno.h"

namespace tern {

constexpr std::string_view to_string(CongestionAlgorithm a) noexcept {
  switch (a) {
    case CongestionAlgorithm::kCubic:
      return "cubic";
    case CongestionAlgorithm::kBbr:
      return "bbr";
    case CongestionAlgorithm::kNewReno:
      break;
  }
  return "newreno";
}

// Linux's names: "reno" is its name for the same NewReno.
constexpr bool parse_congestion(std::string_view name, CongestionAlgorithm& out) noexcept {
  if (name == "cubic") {
    out = CongestionAlgorithm::kCubic;
    return true;
  }
  if (name == "newreno" || name == "reno") {
    out = CongestionAlgorithm::kNewReno;
    return true;
  }
  if (name == "bbr") {
    out = CongestionAlgorithm::kBbr;
    return true;
  }
  return false;
}

class Congestion {
  // One branch on the index rather than std::visit's table of calls; first
  // in the class so the members below can deduce its return type.
  template <class F>
  decltype(auto) visit(F&& f) noexcept {
    if (auto* c = std::get_if<Cubic>(&v_)) return f(*c);
    if (auto* b = std::get_if<Bbr>(&v_)) return f(*b);
    return f(*std::get_if<NewReno>(&v_));
  }
  template <class F>
  decltype(auto) visit(F&& f) const noexcept {
    if (const auto* c = std::get_if<Cubic>(&v_)) return f(*c);
    if (const auto* b = std::get_if<Bbr>(&v_)) return f(*b);
    return f(*std::get_if<NewReno>(&v_));
  }

 public:
  Congestion(CongestionAlgorithm a, const NewRenoConfig& cfg) noexcept { reset(a, cfg); }

  // A fresh controller (a new connection, or options agreed: a new MSS).
  void reset(CongestionAlgorithm a, const NewRenoConfig& cfg) noexcept {
    if (a == CongestionAlgorithm::kCubic)
      v_.emplace<Cubic>(cfg);
    else if (a == CongestionAlgorithm::kBbr)
      v_.emplace<Bbr>(cfg);
    else
      v_.emplace<NewReno>(cfg);
  }
  // Another algorithm mid-connection: it takes over the window.
  void switch_to(CongestionAlgorithm a, const NewRenoConfig& cfg, bool in_sack_recovery) noexcept {
    if (a == algorithm()) return;
    const std::uint32_t cw = cwnd(), st = ssthresh();
    reset(a, cfg);
    visit([&](auto& c) { c.adopt(cw, st, in_sack_recovery); });
  }
  CongestionAlgorithm algorithm() const noexcept {
    if (std::holds_alternative<Cubic>(v_)) return CongestionAlgorithm::kCubic;
    if (std::holds_alternative<Bbr>(v_)) return CongestionAlgorithm::kBbr;
    return CongestionAlgorithm::kNewReno;
  }

  CcAction on_ack(const AckSample& a) noexcept {
    return visit([&](auto& c) { return c.on_ack(a); });
  }
  CcAction on_dup_ack(const AckSample& a) noexcept {
    return visit([&](auto& c) { return c.on_dup_ack(a); });
  }
  void on_limited_transmit(std::uint32_t bytes) noexcept {
    visit([&](auto& c) { c.on_limited_transmit(bytes); });
  }
  void on_rto(Seq32 snd_una, Seq32 snd_max) noexcept {
    visit([&](auto& c) { c.on_rto(snd_una, snd_max); });
  }
  bool on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept {
    return visit([&](auto& c) { return c.on_idle_restart(now, last_send, rto); });
  }
  // RFC 6675 §5 (4.2). `pipe` and `delivered` (this ACK's DeliveredData)
  // are for BBR's packet conservation; the others set ssthresh from FlightSize.
  void enter_sack_recovery(std::uint32_t flight_size, Seq32 snd_max, std::uint32_t pipe = 0,
                           std::uint32_t delivered = 0) noexcept {
    if (auto* b = std::get_if<Bbr>(&v_)) return b->enter_sack_recovery(pipe, delivered);
    visit([&](auto& c) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(c)>, Bbr>)
        c.enter_sack_recovery(flight_size, snd_max);
    });
  }
  void set_recovery_cwnd(std::uint32_t cwnd) noexcept {
    visit([&](auto& c) { c.set_recovery_cwnd(cwnd); });
  }
  void exit_sack_recovery() noexcept {
    visit([&](auto& c) { c.exit_sack_recovery(); });
  }
  // The episode's response was spurious: the window from before it.
  bool undo() noexcept {
    return visit([&](auto& c) { return c.undo(); });
  }
  bool can_undo() const noexcept {
    return visit([](const auto& c) { return c.can_undo(); });
  }

  std::uint32_t cwnd() const noexcept {
    return visit([](const auto& c) { return c.cwnd(); });
  }
  std::uint32_t ssthresh() const noexcept {
    return visit([](const auto& c) { return c.ssthresh(); });
  }
  bool in_slow_start() const noexcept {
    return visit([](const auto& c) { return c.in_slow_start(); });
  }
  bool in_recovery() const noexcept {
    return visit([](const auto& c) { return c.in_recovery(); });
  }
  std::uint32_t dup_acks() const noexcept {
    return visit([](const auto& c) { return c.dup_acks(); });
  }
  std::string_view name() const noexcept {
    return visit([](const auto& c) { return c.name(); });
  }
  const NewReno* newreno() const noexcept { return std::get_if<NewReno>(&v_); }
  const Cubic* cubic() const noexcept { return std::get_if<Cubic>(&v_); }
  const Bbr* bbr() const noexcept { return std::get_if<Bbr>(&v_); }
  Bbr* bbr() noexcept { return std::get_if<Bbr>(&v_); }  // tests drive BBR's model to a state

  // Rate-based controllers (BBR) want a delivery-rate sample per ACK
  // (tcp/delivery_rate.h); the engine skips the sampling for the others.
  bool wants_rate_samples() const noexcept { return std::holds_alternative<Bbr>(v_); }
  void on_rate_sample(const RateSample& rs, const BbrAck& a) noexcept {
    if (auto* b = std::get_if<Bbr>(&v_)) b->on_sample(rs, a);
  }
  // Whether this controller paces at all: pacing_rate() is 0 when it does
  // not (TcpStack::may_pace asks before any per-segment pacing work).
  bool paces() const noexcept { return std::holds_alternative<Bbr>(v_); }
  // Bytes per second the engine paces at; 0 for controllers that do not pace.
  std::uint64_t pacing_rate() const noexcept {
    const auto* b = std::get_if<Bbr>(&v_);
    return b != nullptr ? b->pacing_rate() : 0;
  }
  // The burst the pacer may send at once (BBR's send quantum); 0 when not pacing.
  std::uint32_t pacing_quantum() const noexcept {
    const auto* b = std::get_if<Bbr>(&v_);
    return b != nullptr ? b->send_quantum() : 0;
  }

 private:
  std::variant<NewReno, Cubic, Bbr> v_;
};

}  // namespace tern
