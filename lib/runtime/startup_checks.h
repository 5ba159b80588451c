#pragma once
// What the EAL or a PMD would reject in its own words (or, for a shared
// interface, not reject at all), checked before rte_eal_init and said in
// Tern's, naming the configuration key: lcores this process cannot run on,
// a file_prefix another process holds, hugepages that are not mounted, not
// writable or not free, memory beyond what is available, missing root or
// capabilities, and an interface another Tern process already drives.
// Start-up code: throws StartupError.
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"

namespace tern {

class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every check below but the interface claim, in the order a user would fix
// them: lcores, privileges, the file prefix, hugepages and memory.
void check_before_eal(const Config& cfg);

// The facts the checks read, separate so that tests can feed them.
struct HostFacts {
  std::vector<unsigned> allowed_cpus;  // sched_getaffinity
  unsigned online_cpus = 0;
  bool root = false;
  std::uint64_t cap_eff = 0;  // CapEff of /proc/self/status
};
HostFacts read_host_facts();
// Throws StartupError for an lcore outside `allowed_cpus` or missing privileges.
void check_lcores(const Config& cfg, const HostFacts& host);
void check_privileges(const Config& cfg, const HostFacts& host);

// An exclusive claim on the kernel interfaces of the socket PMDs (net_tap,
// net_af_packet, net_af_xdp), held while the process lives: an flock on
// a file named after the network namespace and the interface, so that a
// second Tern process on the same interface is refused instead of silently
// adding queues to it (net_tap) or sharing its frames (af_packet). A tap that
// a process outside Tern holds open is refused too (its fdinfo names it).
// The lock file goes when the claim ends normally; one a killed process left
// is taken over by the next claim.
class InterfaceClaims {
 public:
  InterfaceClaims() = default;
  explicit InterfaceClaims(const Config& cfg);  // throws StartupError
  ~InterfaceClaims();
  InterfaceClaims(InterfaceClaims&& o) noexcept : held_(std::move(o.held_)) { o.held_.clear(); }
  InterfaceClaims& operator=(InterfaceClaims&& o) noexcept;
  InterfaceClaims(const InterfaceClaims&) = delete;
  InterfaceClaims& operator=(const InterfaceClaims&) = delete;

 private:
  struct Held {
    int fd;
    std::string path;  // removed, still locked, when the claim ends
  };
  void release() noexcept;
  std::vector<Held> held_;
};

// The kernel interface a socket PMD's device string names ("" for others).
std::string claimed_interface(const std::string& device);

}  // namespace tern
