#include "runtime/telemetry.h"

#include <rte_telemetry.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "runtime/runtime.h"

namespace tern {
namespace {

std::atomic<const Runtime*> g_runtime{nullptr};

void add_counters(rte_tel_data* d, const Counters& c) {
  for (std::size_t i = 0; i < kCounterCount; ++i)
    rte_tel_data_add_dict_u64(d, std::string(counter_name(static_cast<Counter>(i))).c_str(), c.events[i]);
  for (std::size_t i = 0; i < kDropCount; ++i)
    rte_tel_data_add_dict_u64(d, ("Drop." + std::string(drop_name(static_cast<Drop>(i)))).c_str(),
                              c.drops[i]);
}

int stats_cmd(const char*, const char* params, rte_tel_data* d) {
  const Runtime* rt = g_runtime.load();
  if (rt == nullptr) return -EINVAL;
  rte_tel_data_start_dict(d);
  if (params != nullptr && *params != '\0') {
    char* end = nullptr;
    const unsigned long w = std::strtoul(params, &end, 10);
    if (*end != '\0' || w >= rt->workers()) return -EINVAL;
    add_counters(d, rt->worker(w).counters());
  } else {
    add_counters(d, rt->totals());
  }
  return 0;
}

int info_cmd(const char*, const char*, rte_tel_data* d) {
  const Runtime* rt = g_runtime.load();
  if (rt == nullptr) return -EINVAL;
  const PortInfo& p = rt->port().info();
  const PortConfig& pc = rt->config().ports.front();
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "workers", rt->workers());
  rte_tel_data_add_dict_string(d, "address",
                               (format_ipv4(pc.address.addr) + "/" + std::to_string(pc.address.len)).c_str());
  rte_tel_data_add_dict_string(d, "mac", p.mac.to_string().c_str());
  rte_tel_data_add_dict_string(d, "port", p.name.c_str());
  rte_tel_data_add_dict_u64(d, "mtu", p.mtu);
  rte_tel_data_add_dict_string(d, "steering",
                               p.queues == 1 || rt->workers() == 1 ? "single-queue"
                               : p.steering == Steering::kRss      ? "rss"
                                                                   : "software");
  return 0;
}

}  // namespace

void register_telemetry(const Runtime* rt) {
  static const bool registered = [] {
    rte_telemetry_register_cmd(
        "/tern/stats", stats_cmd,
        "Tern counters and drop reasons, summed over workers. Parameter: worker index");
    rte_telemetry_register_cmd("/tern/info", info_cmd, "Tern workers, address, MAC and steering mode");
    return true;
  }();
  (void)registered;
  g_runtime.store(rt);
}

}  // namespace tern
