#include "runtime/startup_checks.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "port/ethdev_port.h"

namespace tern {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::uint64_t read_number(const std::string& path) {
  return std::strtoull(read_file(path).c_str(), nullptr, 10);
}

// "0-1,4" for a sorted list.
std::string cpu_ranges(const std::vector<unsigned>& cpus) {
  std::string s;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    s += (s.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i) s += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return s;
}

std::string lcore_list(const std::vector<unsigned>& lcores) {
  std::string s;
  for (unsigned l : lcores) s += (s.empty() ? "" : ", ") + std::to_string(l);
  return "[" + s + "]";
}

std::string process_name(long pid) {
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm.empty() ? "?" : comm;
}

bool has_arg(const Config& cfg, std::string_view a) {
  return std::any_of(cfg.eal.args.begin(), cfg.eal.args.end(),
                     [&](const std::string& x) { return x == a || x.rfind(std::string(a) + "=", 0) == 0; });
}

// Where DPDK 22.11 keeps a primary's runtime files (eal_get_runtime_dir).
std::string dpdk_runtime_dir(const std::string& prefix) {
  if (geteuid() == 0) return "/var/run/dpdk/" + prefix;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return std::string(xdg != nullptr ? xdg : "/tmp") + "/dpdk/" + prefix;
}

// The EAL's primary holds a write lock on <runtime dir>/config while it runs.
void check_file_prefix(const Config& cfg) {
  if (has_arg(cfg, "--in-memory") || has_arg(cfg, "--no-shconf")) return;
  const std::string path = dpdk_runtime_dir(cfg.eal.file_prefix) + "/config";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // nobody has run with this prefix (or it was cleaned up)
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  const bool got = ::fcntl(fd, F_GETLK, &lk) == 0;
  ::close(fd);
  if (!got || lk.l_type == F_UNLCK) return;
  throw StartupError("eal.file_prefix = \"" + cfg.eal.file_prefix +
                     "\" is in use by another DPDK process (pid " + std::to_string(lk.l_pid) + ", " +
                     process_name(lk.l_pid) +
                     "); give each process its own file_prefix (telemetry and dpdk-dumpcap find a "
                     "process by it)");
}

struct HugeMount {
  std::string dir;
  std::uint64_t page_kb = 0;
};

std::vector<HugeMount> hugetlbfs_mounts() {
  std::vector<HugeMount> out;
  std::istringstream in(read_file("/proc/mounts"));
  std::uint64_t default_kb = 0;
  {
    std::istringstream mi(read_file("/proc/meminfo"));
    std::string key;
    std::uint64_t v = 0;
    std::string unit;
    while (mi >> key >> v) {
      if (key == "Hugepagesize:") default_kb = v;
      std::getline(mi, unit);
    }
  }
  std::string dev, dir, type, opts;
  while (in >> dev >> dir >> type >> opts) {
    std::string rest;
    std::getline(in, rest);
    if (type != "hugetlbfs") continue;
    HugeMount m{dir, default_kb};
    if (const auto at = opts.find("pagesize="); at != std::string::npos) {
      const std::string v = opts.substr(at + 9, opts.find(',', at) - at - 9);
      std::uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
      const char unit = v.empty() ? 'M' : v.back();
      m.page_kb = unit == 'G' ? n << 20 : unit == 'M' ? n << 10 : unit == 'K' ? n : n >> 10;
    }
    out.push_back(m);
  }
  return out;
}

// Bytes of the files in `dir` whose names start (or do not start) with `prefix`.
struct DirUse {
  std::uint64_t ours = 0, others = 0;
  unsigned other_files = 0;
};
DirUse hugepage_files(const std::string& dir, const std::string& prefix) {
  DirUse u;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return u;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const auto bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
    if (name.rfind(prefix + "map_", 0) == 0) {
      u.ours += bytes;
    } else {
      u.others += bytes;
      ++u.other_files;
    }
  }
  ::closedir(d);
  return u;
}

void check_memory(const Config& cfg) {
  const std::uint64_t want = std::uint64_t{cfg.eal.memory_mb} << 20;
  if (cfg.eal.no_huge) {
    std::istringstream mi(read_file("/proc/meminfo"));
    std::string key, unit;
    std::uint64_t v = 0;
    while (mi >> key >> v) {
      std::getline(mi, unit);
      if (key == "MemAvailable:" && (v << 10) < want)
        throw StartupError(
            "eal.memory_mb = " + std::to_string(cfg.eal.memory_mb) + " (eal.no_huge = true) but only " +
            std::to_string(v >> 10) +
            " MB of memory are available (MemAvailable in /proc/meminfo); lower eal.memory_mb");
    }
    return;
  }
  const std::vector<HugeMount> mounts = hugetlbfs_mounts();
  if (mounts.empty())
    throw StartupError(
        "eal.no_huge = false but no hugetlbfs is mounted; mount one (mount -t hugetlbfs nodev "
        "/dev/hugepages, "
        "as dpdk-env/setup.sh does) or set eal.no_huge = true (then no dpdk-dumpcap)");
  std::uint64_t available = 0, others = 0;
  unsigned other_files = 0;
  std::string details, unwritable;
  for (const HugeMount& m : mounts) {
    if (::access(m.dir.c_str(), R_OK | W_OK | X_OK) != 0) {
      unwritable += (unwritable.empty() ? "" : ", ") + m.dir;
      continue;
    }
    const std::string sys = "/sys/kernel/mm/hugepages/hugepages-" + std::to_string(m.page_kb) + "kB/";
    const std::uint64_t free_pages = read_number(sys + "free_hugepages");
    const std::uint64_t total = read_number(sys + "nr_hugepages");
    const std::uint64_t overcommit = read_number(sys + "nr_overcommit_hugepages");
    const std::uint64_t surplus = read_number(sys + "surplus_hugepages");
    const DirUse use = hugepage_files(m.dir, cfg.eal.file_prefix);
    // Our prefix's files from an earlier run are reused (the EAL clears them).
    available +=
        (free_pages + (overcommit > surplus ? overcommit - surplus : 0)) * (m.page_kb << 10) + use.ours;
    others += use.others;
    other_files += use.other_files;
    details += (details.empty() ? "" : ", ") + m.dir + ": " + std::to_string(free_pages) + " of " +
               std::to_string(total) + " pages of " + std::to_string(m.page_kb) + " kB free";
  }
  if (details.empty())
    throw StartupError("hugepages: " + unwritable + " is not writable by this user (uid " +
                       std::to_string(geteuid()) + "); run as root, or set eal.no_huge = true");
  if (available >= want) return;
  std::string msg = "eal.memory_mb = " + std::to_string(cfg.eal.memory_mb) + " but only " +
                    std::to_string(available >> 20) + " MB of hugepages are free (" + details + ")";
  if (other_files > 0)
    msg += "; " + std::to_string(other_files) + " file(s) of other processes hold " +
           std::to_string(others >> 20) +
           " MB there (a killed process leaves its files: remove those of prefixes no process uses, see "
           "README.md, Troubleshooting)";
  msg +=
      "; reserve more (dpdk-env/setup.sh, or echo N > "
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) "
      "or lower eal.memory_mb";
  throw StartupError(msg);
}

std::string claim_dir() {
  if (geteuid() == 0) return "/run/tern";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return xdg != nullptr ? std::string(xdg) + "/tern" : "/tmp/tern-" + std::to_string(geteuid());
}

// A process outside Tern that holds the tap `iface` open (its fdinfo says "iff: NAME").
long tap_holder(const std::string& iface) {
  const std::string own_ns = [] {
    char buf[64] = {};
    const ssize_t n = ::readlink("/proc/self/ns/net", buf, sizeof buf - 1);
    return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  }();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  long found = 0;
  while (const dirent* p = ::readdir(proc)) {
    const long pid = std::strtol(p->d_name, nullptr, 10);
    if (pid <= 0 || pid == getpid()) continue;
    const std::string base = "/proc/" + std::string(p->d_name);
    char ns[64] = {};
    const ssize_t nl = ::readlink((base + "/ns/net").c_str(), ns, sizeof ns - 1);
    if (nl <= 0 || own_ns != std::string(ns, static_cast<std::size_t>(nl))) continue;
    DIR* fds = ::opendir((base + "/fd").c_str());
    if (fds == nullptr) continue;
    while (const dirent* f = ::readdir(fds)) {
      char target[32] = {};
      const std::string fd = f->d_name;
      if (::readlink((base + "/fd/" + fd).c_str(), target, sizeof target - 1) <= 0 ||
          std::strcmp(target, "/dev/net/tun") != 0)
        continue;
      const std::string info = read_file(base + "/fdinfo/" + fd);
      if (info.find("iff:\t" + iface + "\n") != std::string::npos) {
        found = pid;
        break;
      }
    }
    ::closedir(fds);
    if (found != 0) break;
  }
  ::closedir(proc);
  return found;
}

}  // namespace

HostFacts read_host_facts() {
  HostFacts h;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) h.allowed_cpus.push_back(c);
  h.online_cpus = static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  h.root = geteuid() == 0;
  std::istringstream st(read_file("/proc/self/status"));
  std::string line;
  while (std::getline(st, line))
    if (line.rfind("CapEff:", 0) == 0) h.cap_eff = std::strtoull(line.c_str() + 7, nullptr, 16);
  return h;
}

void check_lcores(const Config& cfg, const HostFacts& host) {
  for (unsigned l : cfg.runtime.lcores) {
    if (std::find(host.allowed_cpus.begin(), host.allowed_cpus.end(), l) != host.allowed_cpus.end()) continue;
    throw StartupError("runtime.lcores = " + lcore_list(cfg.runtime.lcores) + ": lcore " + std::to_string(l) +
                       " is not a CPU this process may run on (it may use CPUs " +
                       cpu_ranges(host.allowed_cpus) + " of the " + std::to_string(host.online_cpus) +
                       " online); each lcore runs one worker pinned to the CPU of that number");
  }
}

void check_privileges(const Config& cfg, const HostFacts& host) {
  if (host.root) return;
  const auto has = [&](int cap) { return (host.cap_eff >> cap) & 1; };
  for (const PortConfig& p : cfg.ports) {
    const std::string& d = p.device;
    std::string need;
    if (d.rfind("net_tap", 0) == 0 && !has(CAP_NET_ADMIN))
      need = "CAP_NET_ADMIN to create its tap interface";
    else if (d.rfind("net_af_packet", 0) == 0 && !has(CAP_NET_RAW))
      need = "CAP_NET_RAW to open its packet sockets";
    else if (is_pci_address(d) && !has(CAP_SYS_ADMIN))
      need = "CAP_SYS_ADMIN (or root) to drive a PCI device";
    if (!need.empty())
      throw StartupError("not running as root (uid " + std::to_string(geteuid()) + "): port " + p.name +
                         " (device = \"" + d + "\") needs " + need +
                         "; run it as root (sudo) or grant the capability (setcap)");
  }
}

void check_before_eal(const Config& cfg) {
  const HostFacts host = read_host_facts();
  check_lcores(cfg, host);
  check_privileges(cfg, host);
  check_file_prefix(cfg);
  check_memory(cfg);
}

std::string claimed_interface(const std::string& device) {
  if (device.rfind("net_tap", 0) != 0 && device.rfind("net_af_packet", 0) != 0 && !is_af_xdp(device))
    return "";
  return device_arg(device, "iface").value_or("");
}

InterfaceClaims::InterfaceClaims(const Config& cfg) {
  struct stat ns {};
  if (::stat("/proc/self/ns/net", &ns) != 0) return;
  // On a refusal, let go of what this constructor took (no destructor runs).
  const auto refuse = [this](int fd, const std::string& why) {
    if (fd >= 0) ::close(fd);
    release();
    throw StartupError(why);
  };
  for (const PortConfig& p : cfg.ports) {
    const std::string iface = claimed_interface(p.device);
    if (iface.empty()) continue;
    const std::string where = "port " + p.name + ": interface " + iface;
    const std::string dir = claim_dir();
    ::mkdir(dir.c_str(), 0755);  // exists already, or open() below says why not
    const std::string path = dir + "/iface-" + std::to_string(ns.st_ino) + "-" + iface + ".lock";
    int fd = -1;
    // The holder removes the file when it lets go: a lock taken on a file
    // that is no longer at `path` is retried on the new one.
    for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) refuse(-1, where + ": cannot create the lock file " + path + ": " + std::strerror(errno));
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const long pid = std::strtol(read_file(path).c_str(), nullptr, 10);
        refuse(fd, where + " is in use by another Tern process (pid " + std::to_string(pid) + ", " +
                       process_name(pid) +
                       "); one interface serves one process. Stop that process or give this one another "
                       "iface= name");
      }
      struct stat held {
      }, now{};
      if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino) {
        ::close(fd);
        fd = -1;
      }
    }
    if (fd < 0) refuse(-1, where + ": the lock file " + path + " keeps changing");
    // Not a Tern process (or one from before these claims): its fdinfo says.
    if (p.device.rfind("net_tap", 0) == 0)
      if (const long pid = tap_holder(iface); pid != 0)
        refuse(fd, where + " is a tap that process " + std::to_string(pid) + " (" + process_name(pid) +
                       ") holds open; a second process would add queues to it and change its MAC. "
                       "Stop that process or give this one another iface= name");
    const std::string pid = std::to_string(getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
      // The lock is what counts; the pid only makes the message better.
    }
    held_.push_back({fd, path});
  }
}

void InterfaceClaims::release() noexcept {
  for (const Held& h : held_) {
    ::unlink(h.path.c_str());  // while still locked: nobody takes a file that is going
    ::close(h.fd);
  }
  held_.clear();
}

InterfaceClaims::~InterfaceClaims() { release(); }

InterfaceClaims& InterfaceClaims::operator=(InterfaceClaims&& o) noexcept {
  if (this != &o) {
    release();
    held_ = std::move(o.held_);
    o.held_.clear();
  }
  return *this;
}

}  // namespace tern
