#include "port/veth_peer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace tern {
namespace {

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// SIOCETHTOOL on `name` through socket `sock` (whose namespace names resolve in).
bool ethtool(int sock, const std::string& name, void* data) {
  ifreq ifr{};
  if (name.size() >= IFNAMSIZ) return false;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_data = static_cast<char*>(data);
  return ioctl(sock, SIOCETHTOOL, &ifr) == 0;
}

// The driver name of `name`, false if ethtool cannot say.
bool driver_of(int sock, const std::string& name, std::string* driver) {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  if (!ethtool(sock, name, &info)) return false;
  *driver = std::string(info.driver, strnlen(info.driver, sizeof info.driver));
  return true;
}

// One request on a NETLINK_ROUTE socket; the reply's first message (its
// attributes start `offset` bytes into its payload). False on an error reply.
bool rtnl_ask(int nl, void* req, std::uint32_t len, std::vector<std::uint8_t>* reply) {
  if (send(nl, req, len, 0) != static_cast<ssize_t>(len)) return false;
  reply->assign(8192, 0);
  const ssize_t n = recv(nl, reply->data(), reply->size(), 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return false;
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply->data());
  if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_len > static_cast<std::uint32_t>(n)) return false;
  reply->resize(h->nlmsg_len);
  return true;
}

// The attribute `type` of a reply message whose fixed header is `fixed` bytes, as an int32.
bool rtnl_attr(const std::vector<std::uint8_t>& msg, std::size_t fixed, unsigned short type,
               std::int32_t* out) {
  std::size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(fixed);
  while (at + sizeof(rtattr) <= msg.size()) {
    rtattr a{};
    std::memcpy(&a, msg.data() + at, sizeof a);
    if (a.rta_len < sizeof(rtattr) || at + a.rta_len > msg.size()) return false;
    if (a.rta_type == type && a.rta_len >= RTA_LENGTH(sizeof *out)) {
      std::memcpy(out, msg.data() + at + RTA_LENGTH(0), sizeof *out);
      return true;
    }
    at += RTA_ALIGN(a.rta_len);
  }
  return false;
}

// Our interface's peer: its ifindex (IFLA_LINK) and the id our namespace
// gives the peer's namespace (IFLA_LINK_NETNSID; -1 when the peer is in ours).
bool link_of(int nl, int ifindex, int* peer_ifindex, std::int32_t* peer_nsid) {
  struct {
    nlmsghdr h;
    ifinfomsg i;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = ifindex;
  std::vector<std::uint8_t> reply;
  if (!rtnl_ask(nl, &req, sizeof req, &reply)) return false;
  std::int32_t link = 0;
  if (!rtnl_attr(reply, sizeof(ifinfomsg), IFLA_LINK, &link)) return false;
  *peer_ifindex = link;
  *peer_nsid = -1;
  rtnl_attr(reply, sizeof(ifinfomsg), IFLA_LINK_NETNSID, peer_nsid);
  return true;
}

// The id our namespace gives the namespace open as `ns_fd` (RTM_GETNSID), or -1.
std::int32_t nsid_of(int nl, int ns_fd) {
  struct {
    nlmsghdr h;
    rtgenmsg g;
    std::uint8_t pad[NLMSG_ALIGN(sizeof(rtgenmsg)) - sizeof(rtgenmsg)];
    rtattr a;
    std::uint32_t fd;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETNSID;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.g.rtgen_family = AF_UNSPEC;
  req.a.rta_len = RTA_LENGTH(sizeof req.fd);
  req.a.rta_type = NETNSA_FD;
  req.fd = static_cast<std::uint32_t>(ns_fd);
  std::vector<std::uint8_t> reply;
  std::int32_t id = -1;
  if (!rtnl_ask(nl, &req, sizeof req, &reply) || !rtnl_attr(reply, sizeof(rtgenmsg), NETNSA_NSID, &id))
    return -1;
  return id;
}

// In the namespace `sock` lives in (the peer's): the veth numbered
// `ifindex`; fills its name and TX checksum state.
bool read_peer(int sock, int ifindex, VethPeerReport* r) {
  char name[IF_NAMESIZE] = {};
  ifreq ifr{};
  ifr.ifr_ifindex = ifindex;
  if (ioctl(sock, SIOCGIFNAME, &ifr) != 0) return false;
  std::memcpy(name, ifr.ifr_name, IF_NAMESIZE - 1);
  std::string driver;
  if (!driver_of(sock, name, &driver) || driver != "veth") return false;
  ethtool_value tx{};
  tx.cmd = ETHTOOL_GTXCSUM;
  if (!ethtool(sock, name, &tx)) return false;
  r->peer = name;
  r->peer_tx_checksum = tx.data != 0;
  return true;
}

// A socket in the network namespace `ns_fd`, made on the calling thread,
// which enters that namespace for good (the caller is a throwaway thread).
int socket_in(int ns_fd) {
  if (setns(ns_fd, CLONE_NEWNET) != 0) return -1;
  return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

struct Candidate {
  std::string label;  // VethPeerReport::peer_netns
  std::string path;
};

// Every namespace the peer may be in, besides our own: `ip netns`'s, then pid 1's.
std::vector<Candidate> candidates() {
  std::vector<Candidate> c;
  if (DIR* d = opendir("/run/netns")) {
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') c.push_back({e->d_name, std::string("/run/netns/") + e->d_name});
    closedir(d);
  }
  c.push_back({"init", "/proc/1/ns/net"});
  return c;
}

// Finds the namespace our namespace calls `nsid` among the candidates and
// reads the peer there. Runs on a thread of its own: it enters that namespace.
void search_namespaces(int nl, VethPeerReport* r, std::int32_t nsid) {
  bool denied = false;
  for (const Candidate& c : candidates()) {
    Fd ns(open(c.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (ns.get() < 0 || nsid_of(nl, ns.get()) != nsid) continue;
    Fd sock(socket_in(ns.get()));
    if (sock.get() < 0) {
      denied = errno == EPERM;
      break;
    }
    if (read_peer(sock.get(), r->peer_ifindex, r)) {
      r->kind = VethPeerReport::Kind::kPeerFound;
      r->peer_netns = c.label;
      return;
    }
    break;
  }
  r->detail = denied ? "not allowed to enter its network namespace (CAP_SYS_ADMIN)"
                     : "its network namespace is neither under /run/netns nor the initial one";
}

}  // namespace

std::string socket_pmd_iface(const std::string& device) {
  if (device.rfind("net_af_packet", 0) != 0 && device.rfind("net_af_xdp", 0) != 0) return "";
  std::size_t at = 0;
  while ((at = device.find("iface=", at)) != std::string::npos) {
    if (at > 0 && device[at - 1] == ',') {
      const std::size_t start = at + 6;
      return device.substr(start, device.find(',', start) - start);
    }
    at += 6;
  }
  return "";
}

VethPeerReport inspect_veth_peer(const std::string& iface) {
  VethPeerReport r;
  r.iface = iface;
  const int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (ifindex == 0) {
    r.detail = "no interface " + iface + " in this network namespace";
    return r;
  }
  Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  std::string driver;
  if (sock.get() < 0 || !driver_of(sock.get(), iface, &driver) || driver != "veth") {
    r.kind = VethPeerReport::Kind::kNotVeth;
    return r;
  }
  r.kind = VethPeerReport::Kind::kPeerNotFound;
  Fd nl(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  std::int32_t nsid = -1;
  if (nl.get() < 0 || !link_of(nl.get(), ifindex, &r.peer_ifindex, &nsid)) {
    r.detail = "rtnetlink does not say where its peer is";
    return r;
  }
  if (nsid < 0) {  // the peer is in our namespace
    if (read_peer(sock.get(), r.peer_ifindex, &r)) r.kind = VethPeerReport::Kind::kPeerFound;
    return r;
  }
  // setns() changes the calling thread's namespace: a thread of its own, so
  // the caller's (the EAL's main lcore) never moves.
  std::thread t(search_namespaces, nl.get(), &r, nsid);
  t.join();
  return r;
}

std::string veth_peer_advice(const std::string& port, const std::string& pmd, const VethPeerReport& r,
                             bool* warning) {
  *warning = false;
  const std::string why = "the kernel hands the peer's TCP segments to " + pmd +
                          "'s socket with their checksum not yet filled in (CHECKSUM_PARTIAL), " + pmd +
                          " does not say so, and Tern drops every one as TcpBadChecksum";
  switch (r.kind) {
    case VethPeerReport::Kind::kNotVeth:
      return "";
    case VethPeerReport::Kind::kError:
      *warning = true;
      return "port " + port + ": cannot examine " + r.iface + " (" + r.detail + ")";
    case VethPeerReport::Kind::kPeerNotFound:
      *warning = true;
      return "port " + port + ": " + pmd + " on veth " + r.iface + ", whose peer (ifindex " +
             std::to_string(r.peer_ifindex) + ") Tern cannot see: " + r.detail +
             ". If the peer's TX checksum offload is on, " + why +
             "; turn it off on the peer: ethtool -K <peer> tx off (docs/ports.md)";
    case VethPeerReport::Kind::kPeerFound:
      break;
  }
  const std::string where = r.peer_netns.empty()     ? " (this network namespace)"
                            : r.peer_netns == "init" ? " (the initial network namespace)"
                                                     : " (network namespace " + r.peer_netns + ")";
  if (!r.peer_tx_checksum)
    return "port " + port + ": " + pmd + " on veth " + r.iface + "; its peer " + r.peer + where +
           " has TX checksum offload off, as " + pmd + " needs";
  *warning = true;
  const std::string in_ns =
      r.peer_netns.empty() || r.peer_netns == "init" ? "" : "ip netns exec " + r.peer_netns + " ";
  return "port " + port + ": " + pmd + " on veth " + r.iface + ", whose peer " + r.peer + where +
         " has TX checksum offload on: " + why + ". Fix: " + in_ns + "ethtool -K " + r.peer +
         " tx off (docs/ports.md)";
}

}  // namespace tern
