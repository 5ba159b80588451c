#pragma once
// What the runtime's tests give a Worker on one side of an in-process link:
// our IPv4 address (kOurIp/24) on the port's MAC and MTU, and TCP on it.
#include "../ip/test_frames.h"
#include "port/port.h"
#include "runtime/worker.h"

namespace tern::testkit {

inline IpSettings worker_ip_settings(const Port& port) {
  IpSettings s;
  s.mac = port.info().mac;
  s.addr = kOurIp;
  s.prefix_len = 24;
  s.mtu = port.info().mtu;
  return s;
}

// TCP from `s`'s address and MTU, a pool of `max_connections` TCBs.
inline WorkerTcpSettings worker_tcp_settings(const IpSettings& s, std::uint32_t max_connections) {
  WorkerTcpSettings tcp;
  tcp.opts.local_addr = s.addr;
  tcp.opts.mtu = s.mtu;
  tcp.opts.cfg.max_connections = max_connections;
  return tcp;
}

}  // namespace tern::testkit
