// gtest main for tests that need mbufs: starts the EAL without hugepages, PCI
// or shared files, so tests run anywhere, in parallel, without root-only set-up.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <string>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  std::string prefix = "--file-prefix=terntest" + std::to_string(getpid());
  const char* eal_argv[] = {"tern-test", "--no-huge",    "--no-pci",          "--no-shconf",
                            "-m",        "256",          "--log-level=error", "-l",
                            "0",         prefix.c_str(), "--no-telemetry"};
  int eal_argc = static_cast<int>(sizeof(eal_argv) / sizeof(eal_argv[0]));
  if (rte_eal_init(eal_argc, const_cast<char**>(eal_argv)) < 0) {
    fprintf(stderr, "rte_eal_init failed\n");
    return 2;
  }
  int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
