#pragma once
// How many connection slots each client address holds, so that eviction
// can prefer a connection from a crowded source (tern-httpd, http_timers.h
// victim()): a host holding hundreds of slots loses one before a host that
// holds one, as nginx's limit_conn or HAProxy's src_conn_cur let an
// operator arrange. Against a spread-out attack (one connection per
// address) no source is crowded and eviction is by age alone.
//
// The table is reserved for `expected` sources at start-up; adding a
// source allocates only past that (the accept path, never per packet).
#include <absl/container/flat_hash_map.h>

#include <cstdint>

#include "tern/ip_addr.h"

namespace tern::apps {

class SourceCounts {
 public:
  // A source is crowded when it holds at least kMinCrowded slots and at
  // least 1/kCrowdedShare of all the slots in use.
  static constexpr std::uint32_t kMinCrowded = 8;
  static constexpr std::uint32_t kCrowdedShare = 64;

  explicit SourceCounts(std::uint32_t expected = 0) { counts_.reserve(expected); }

  void add(const IpAddr& source) {
    ++counts_[source];
    ++total_;
  }
  void remove(const IpAddr& source) noexcept {
    auto it = counts_.find(source);
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
    --total_;
  }
  std::uint32_t count(const IpAddr& source) const noexcept {
    auto it = counts_.find(source);
    return it == counts_.end() ? 0 : it->second;
  }
  std::uint32_t total() const noexcept { return total_; }
  std::uint32_t sources() const noexcept { return static_cast<std::uint32_t>(counts_.size()); }
  bool crowded(const IpAddr& source) const noexcept {
    const std::uint64_t n = count(source);
    return n >= kMinCrowded && n * kCrowdedShare >= total_;
  }

 private:
  absl::flat_hash_map<IpAddr, std::uint32_t> counts_;  // per client address, either family
  std::uint32_t total_ = 0;
};

}  // namespace tern::apps
