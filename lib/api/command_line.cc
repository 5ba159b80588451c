// The command line every Tern application shares: --config, --ready-file,
// --print-eal-args, --help, --version and the application's own options, in
// both spellings ("--port 80" and "--port=80"), with "did you mean" for a
// mistyped flag. --help and --version print to stdout and exit 0; a usage
// error is one line on stderr and exit 2.
#include <rte_version.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/reader.h"
#include "tern/api.h"

#ifndef TERN_VERSION
#error "TERN_VERSION comes from meson.build (the project version)"
#endif

namespace tern::api {
namespace {

struct Common {
  const char* flag;
  const char* alias;  // short form, or nullptr
  const char* metavar;
  const char* help;
};
constexpr Common kCommon[] = {
    {"--config", "-c", "FILE", "TOML configuration (every key: docs/config.md)"},
    {"--ready-file", nullptr, "PATH", "write our pid to PATH once the port is up (for scripts)"},
    {"--print-eal-args", nullptr, nullptr, "print the EAL arguments the config yields and exit"},
    {"--help", "-h", nullptr, "print this help and exit"},
    {"--version", "-V", nullptr, "print the version and exit"},
};

void print_help(const AppSpec& spec, const char* argv0) {
  std::printf("%s: %s\n\nusage: %s --config FILE [options]\n\n", spec.name.c_str(), spec.summary.c_str(),
              argv0);
  const auto line = [](const std::string& left, const std::string& help) {
    std::printf("  %-24s %s\n", left.c_str(), help.c_str());
  };
  for (const Common& c : kCommon)
    line(std::string(c.flag) + (c.metavar ? std::string(" ") + c.metavar : "") +
             (c.alias ? std::string(", ") + c.alias : ""),
         c.help);
  if (!spec.options.empty() || !spec.flags.empty()) std::printf("\n%s options:\n", spec.name.c_str());
  for (const AppOption& o : spec.options)
    line(o.flag + " " + o.metavar, o.help + (o.required ? " (required)" : ""));
  for (const AppFlag& f : spec.flags) line(f.flag, f.help);
  std::printf(
      "\nEvery option also takes the form --option=VALUE.\n"
      "Signals: SIGINT/SIGTERM stop (counters printed), SIGUSR1 prints the counters.\n"
      "Exit status: 0 success, 1 the stack could not start or failed, 2 usage or configuration error.\n"
      "Documentation: docs/apps.md, docs/config.md (Tern %s)\n",
      TERN_VERSION);
}

// "unknown option '--prot'; did you mean --port?"
int unknown(const AppSpec& spec, const std::string& flag) {
  std::vector<std::string_view> known;
  for (const Common& c : kCommon) known.push_back(c.flag);
  for (const AppOption& o : spec.options) known.push_back(o.flag);
  for (const AppFlag& f : spec.flags) known.push_back(f.flag);
  std::string msg = spec.name + ": unknown option '" + flag + "'";
  if (auto near = config_internal::closest(flag, known)) msg += "; did you mean " + std::string(*near) + "?";
  std::fprintf(stderr, "%s (--help lists every option)\n", msg.c_str());
  return 2;
}

int usage_error(const AppSpec& spec, const std::string& what) {
  std::fprintf(stderr, "%s: %s (--help lists every option)\n", spec.name.c_str(), what.c_str());
  return 2;
}

}  // namespace

std::string_view version() noexcept { return TERN_VERSION; }

int parse_command_line(int argc, char** argv, const AppSpec& spec, CommandLine& out) {
  out.program = argc > 0 ? argv[0] : spec.name;
  std::vector<const AppOption*> seen_required;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') return usage_error(spec, "unexpected argument '" + arg + "'");
    // "--opt=value" splits at the first '='; "-c=FILE" too.
    const std::size_t eq = arg.find('=');
    const std::string flag = eq == std::string::npos ? arg : arg.substr(0, eq);
    const bool inline_value = eq != std::string::npos;
    // The value of an option: after '=' or the next argument.
    std::string value;
    const auto take_value = [&]() -> bool {
      if (inline_value) {
        value = arg.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    const auto no_value = [&](const std::string& f) {
      return usage_error(spec, f + " takes no value (got '" + arg + "')");
    };

    if (flag == "--help" || flag == "-h") {
      if (inline_value) return no_value(flag);
      print_help(spec, out.program.c_str());
      return 0;
    }
    if (flag == "--version" || flag == "-V") {
      if (inline_value) return no_value(flag);
      std::printf("%s %s (Tern %s, %s)\n", spec.name.c_str(), TERN_VERSION, TERN_VERSION, rte_version());
      return 0;
    }
    if (flag == "--config" || flag == "-c") {
      if (!take_value()) return usage_error(spec, "--config needs a value: --config FILE");
      out.config_path = value;
    } else if (flag == "--ready-file") {
      if (!take_value()) return usage_error(spec, "--ready-file needs a value: --ready-file PATH");
      out.ready_file = value;
    } else if (flag == "--print-eal-args") {
      if (inline_value) return no_value(flag);
      out.print_eal_args = true;
    } else if (auto f = std::find_if(spec.flags.begin(), spec.flags.end(),
                                     [&](const AppFlag& x) { return x.flag == flag; });
               f != spec.flags.end()) {
      if (inline_value) return no_value(flag);
      f->set();
    } else if (auto o = std::find_if(spec.options.begin(), spec.options.end(),
                                     [&](const AppOption& x) { return x.flag == flag; });
               o != spec.options.end()) {
      if (!take_value()) return usage_error(spec, flag + " needs a value: " + flag + " " + o->metavar);
      try {
        o->set(value);
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), e.what());
        return 2;
      }
      seen_required.push_back(&*o);
    } else {
      return unknown(spec, flag);
    }
  }
  if (!out.print_eal_args) {
    for (const AppOption& o : spec.options)
      if (o.required && std::find(seen_required.begin(), seen_required.end(), &o) == seen_required.end())
        return usage_error(spec, o.flag + " is required: " + o.flag + " " + o.metavar);
  }
  return -1;
}

}  // namespace tern::api
