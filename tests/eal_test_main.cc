// gtest main for tests that need mbufs: starts the EAL without hugepages, PCI
// or shared files, so tests run anywhere, in parallel, without root-only set-up.
#include <gtest/gtest.h>
#include <rte_eal.h>

#include "runtime/eal_in_memory.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (!tern::start_eal_in_memory("terntest")) return 2;
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
