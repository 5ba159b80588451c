// A program outside the Tern tree: a minimal TCP echo server that only knows
// the installed <tern/api.h> and links libtern through pkg-config
// (tests/install/install_test.sh builds and runs it).
#include <tern/api.h>

#include <cstdio>
#include <memory>

namespace {

class Echo final : public tern::api::App,
                   public tern::api::AcceptHandler,
                   public tern::api::ConnectionHandler {
 public:
  void on_start(tern::api::WorkerContext& w) override {
    const tern::api::Error e = w.listen(port, 128, *this);
    if (e != tern::api::Error::kOk)
      std::fprintf(stderr, "outside-echo: listen: %s\n", std::string(tern::api::to_string(e)).c_str());
  }
  tern::api::ConnectionHandler* on_accept(tern::api::Connection&) override { return this; }
  void on_data(tern::api::Connection& c, tern::api::Buffer data) override {
    // Zero-copy echo; what the send buffer refuses is dropped with a reset.
    if (c.send(data).error != tern::api::Error::kOk) c.abort();
  }
  void on_peer_closed(tern::api::Connection& c) override { c.close(); }

  std::uint16_t port = 7;
};

}  // namespace

int main(int argc, char** argv) {
  long port = 7;
  tern::api::AppSpec spec;
  spec.name = "outside-echo";
  spec.summary = "a TCP echo server built against the installed Tern";
  spec.options.push_back({"--port", "N", "TCP port (7)", [&](const std::string& v) {
                            port = tern::api::parse_int_option("--port", v, 1, 65535);
                          }});
  spec.make_app = [&](std::size_t, std::size_t) {
    auto app = std::make_unique<Echo>();
    app->port = static_cast<std::uint16_t>(port);
    return app;
  };
  return tern::api::run(argc, argv, spec);
}
