#pragma once
// Internal to lib/config: the IPv6 keys of [[port]] (address6, gateway6) and
// the [nd] table, kept apart from config.cc so each file stays readable.
#include "config/config.h"
#include "config/reader.h"

namespace tern::config_internal {

// [[port]] address6 and gateway6 into `p` (which has its IPv4 keys read).
void read_port_ipv6(const Section& s, PortConfig& p);
NdConfig read_nd(const Section& s);

}  // namespace tern::config_internal
