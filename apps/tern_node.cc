// tern-node: brings Tern up on the configured port and serves ARP and ICMP
// echo (the TCP applications build on the same runtime). Prints its counters
// on exit and whenever it receives SIGUSR1.
//
//   tern-node --config config/tap.toml [--ready-file PATH] [--print-eal-args]
#include "tern/api.h"

int main(int argc, char** argv) {
  tern::api::AppSpec spec;
  spec.name = "tern-node";
  spec.summary = "Tern on the configured port, answering ARP and ICMP echo";
  spec.describe = [] { return std::string("tern-node: answering ARP and ICMP echo (no TCP application)"); };
  return tern::api::run(argc, argv, spec);
}
