#include "runtime/eal_in_memory.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace tern {

bool start_eal_in_memory(const char* program, const char* log_level, const char* lcores, unsigned memory_mb) {
  const std::string prefix = "--file-prefix=" + std::string(program) + std::to_string(getpid());
  const std::string level = std::string("--log-level=") + log_level;
  const std::string memory = std::to_string(memory_mb);
  // A list with '@' maps lcores to CPUs (EAL's --lcores, e.g. "(0-3)@(0-1)":
  // four loops on two CPUs, to try a multi-worker set-up on a small machine).
  const char* lcore_flag = std::strchr(lcores, '@') != nullptr ? "--lcores" : "-l";
  const char* argv[] = {program,        "--no-huge",    "--no-pci",      "--no-shconf",
                        "-m",           memory.c_str(), lcore_flag,      lcores,
                        prefix.c_str(), level.c_str(),  "--no-telemetry"};
  if (rte_eal_init(static_cast<int>(sizeof(argv) / sizeof(argv[0])), const_cast<char**>(argv)) < 0) {
    std::fprintf(stderr, "%s: rte_eal_init failed: %s\n", program, rte_strerror(rte_errno));
    return false;
  }
  // In memory (--no-shconf) the EAL writes nothing to its runtime
  // directory (/var/run/dpdk/<prefix>) but still creates it: remove it, or
  // every test run leaves one behind.
  (void)rmdir(rte_eal_get_runtime_dir());
  return true;
}

}  // namespace tern
