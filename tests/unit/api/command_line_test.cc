// tern::api::parse_command_line: both spellings of an option, flags, the
// common options, required options, and the one-line usage errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tern/api.h"

namespace tern::api {
namespace {

struct Parsed {
  int rc = 0;
  CommandLine cl;
  std::string port;
  bool json = false;
  std::string err;
};

Parsed parse(std::vector<std::string> args, bool port_required = false) {
  Parsed p;
  AppSpec spec;
  spec.name = "tern-test";
  spec.options.push_back(
      {"--port", "N", "a port", [&p](const std::string& v) { p.port = v; }, port_required});
  spec.options.push_back(
      {"--size", "N", "a size", [](const std::string& v) { parse_int_option("--size", v, 1, 10); }});
  spec.flags.push_back({"--json", "JSON", [&p] { p.json = true; }});
  args.insert(args.begin(), "tern-test");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  p.rc = parse_command_line(static_cast<int>(argv.size()), argv.data(), spec, p.cl);
  testing::internal::GetCapturedStdout();
  p.err = testing::internal::GetCapturedStderr();
  return p;
}

TEST(CommandLine, BothSpellingsOfAnOption) {
  for (const auto& args : {std::vector<std::string>{"--config", "a.toml", "--port", "80"},
                           std::vector<std::string>{"--config=a.toml", "--port=80"},
                           std::vector<std::string>{"-c", "a.toml", "--port=80"}}) {
    const Parsed p = parse(args);
    EXPECT_EQ(p.rc, -1) << p.err;
    EXPECT_EQ(p.cl.config_path, "a.toml");
    EXPECT_EQ(p.port, "80");
  }
}

TEST(CommandLine, ValueWithAnEqualsSignKeepsItsRest) {
  const Parsed p = parse({"--ready-file=/tmp/a=b"});
  EXPECT_EQ(p.rc, -1);
  EXPECT_EQ(p.cl.ready_file, "/tmp/a=b");
}

TEST(CommandLine, FlagsAndCommonOptions) {
  const Parsed p = parse({"--json", "--print-eal-args", "--ready-file", "r"});
  EXPECT_EQ(p.rc, -1);
  EXPECT_TRUE(p.json);
  EXPECT_TRUE(p.cl.print_eal_args);
  EXPECT_EQ(p.cl.ready_file, "r");
}

TEST(CommandLine, HelpAndVersionExitZero) {
  EXPECT_EQ(parse({"--help"}).rc, 0);
  EXPECT_EQ(parse({"-h"}).rc, 0);
  EXPECT_EQ(parse({"--version"}).rc, 0);
  EXPECT_EQ(parse({"--port", "1", "-V"}).rc, 0);
  EXPECT_FALSE(version().empty());
}

TEST(CommandLine, MistypedFlagGetsDidYouMean) {
  const Parsed p = parse({"--prot", "80"});
  EXPECT_EQ(p.rc, 2);
  EXPECT_NE(p.err.find("unknown option '--prot'; did you mean --port?"), std::string::npos) << p.err;
  const Parsed q = parse({"--confg=x"});
  EXPECT_NE(q.err.find("did you mean --config?"), std::string::npos) << q.err;
  const Parsed far = parse({"--zzzzzz"});
  EXPECT_EQ(far.rc, 2);
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

TEST(CommandLine, UsageErrorsAreOneLineAndExitTwo) {
  for (const auto& args : {std::vector<std::string>{"--port"}, std::vector<std::string>{"--json=1"},
                           std::vector<std::string>{"stray"}, std::vector<std::string>{"--size", "11"},
                           std::vector<std::string>{"--help=yes"}}) {
    const Parsed p = parse(args);
    EXPECT_EQ(p.rc, 2) << args.front();
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  }
  EXPECT_NE(parse({"--size", "11"}).err.find("expected an integer in [1, 10]"), std::string::npos);
}

TEST(CommandLine, RequiredOptions) {
  const Parsed missing = parse({"--config", "a"}, /*port_required=*/true);
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("--port is required"), std::string::npos) << missing.err;
  EXPECT_EQ(parse({"--config", "a", "--port=1"}, true).rc, -1);
  EXPECT_EQ(parse({"--config", "a", "--print-eal-args"}, true).rc, -1);  // nothing starts
}

TEST(Api, TimeTypesAreInTheApiNamespace) {
  const api::Instant t = api::Instant::from_ns(5);
  const api::Duration d = api::Duration::ms(1);
  EXPECT_EQ((t + d).ns_since_epoch(), 1'000'005);
}

}  // namespace
}  // namespace tern::api
