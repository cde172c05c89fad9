// The command-line parser: words and environment -> cli::Command (see command.h).
//
// The original's rules: the first word (after options) is an action or the listen port; then
// servers, where a word with a colon is HOST:PORT and a word without one takes the next word
// as its port. A first argument containing spaces is split again, for platforms that pass the
// whole command as one string.
#include "cli/command.h"
#include "cli/option_table.h"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <sstream>
#include <utility>

namespace hamba::cli {

namespace {

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

bool is_number(const std::string& w) {
  return !w.empty() && w.find_first_not_of("0123456789") == std::string::npos;
}

config::Endpoint endpoint_or_usage_error(const std::string& text) {
  try {
    return config::parse_endpoint(text);
  } catch (const config::ConfigError& e) {
    throw UsageError(e.what());
  }
}

// `[ADDR:]PORT SERVER...` -> one frontend.
config::Frontend frontend_from_words(const std::vector<std::string>& words) {
  config::Frontend f;
  const std::string& listen = words.front();
  if (!is_number(listen) && listen.find(':') == std::string::npos)
    throw UsageError(fmt::format("\"{}\" is not a port number (write [ADDRESS:]PORT)", listen));
  f.bind = endpoint_or_usage_error(listen);
  f.name = std::to_string(f.bind.port);
  if (words.size() == 1)
    throw UsageError(fmt::format("no server after \"{}\" (write HOST:PORT or HOST PORT)", listen));
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    config::Server s;
    if (w.empty())
      throw UsageError(fmt::format("an empty word where a server should be, after \"{}\" (write "
                                   "HOST:PORT or HOST PORT)",
                                   words[i - 1]));
    bool bracketed_without_port = w.front() == '[' && w.back() == ']';
    if (w.find(':') != std::string::npos && !bracketed_without_port) {
      s.address = endpoint_or_usage_error(w);
    } else {
      if (i + 1 == words.size())
        throw UsageError(
            fmt::format("server \"{}\" has no port (write {}:PORT or {} PORT)", w, w, w));
      const std::string& port = words[++i];
      if (!is_number(port))
        throw UsageError(fmt::format("port \"{}\" of server \"{}\" is not a number", port, w));
      s.address = endpoint_or_usage_error(
          (bracketed_without_port ? w : (w.find(':') != std::string::npos ? "[" + w + "]" : w)) +
          ":" + port);
    }
    if (s.address.host.empty())
      throw UsageError(fmt::format("server \"{}\" has no host", w));
    f.servers.push_back(s);
  }
  return f;
}

} // namespace

Environment environment_from_process() {
  Environment env;
  for (const OptionSpec& spec : option_table())
    for (const char* name : {spec.env, spec.alias})
      if (const char* v = name ? std::getenv(name) : nullptr)
        env[name] = v;
  return env;
}

void apply_options(const std::vector<GivenOption>& options, config::Config& config) {
  for (const GivenOption& given : options)
    given.spec->apply(config, given.value);
}

namespace {

// A first argument with spaces is the whole command in one string: split it again.
std::vector<std::string> resplit(std::vector<std::string> args) {
  if (args.empty() || args.front().find_first_of(" \t\n") == std::string::npos)
    return args;
  std::vector<std::string> words = split_words(args.front());
  words.insert(words.end(), args.begin() + 1, args.end());
  return words;
}

// Checks one option's value (from `name`, its flag or variable) and keeps it.
void take(Command& cmd, const OptionSpec& spec, const std::string& name, const std::string& value) {
  spec.set(cmd, name, value);
  if (spec.apply)
    cmd.options.push_back({&spec, value});
}

// The variables; run before the flags, so that a flag given wins. The older name (ADMIN) is
// read first, so the newer one wins over it.
void read_environment(Command& cmd, const Environment& env) {
  for (const OptionSpec& spec : option_table())
    for (const char* name : {spec.alias, spec.env})
      if (auto it = name ? env.find(name) : env.end(); it != env.end() && !it->second.empty())
        take(cmd, spec, name, it->second);
}

// The flags; what is not a flag goes to `words`. Returns false for --help and --version (the
// action is set, nothing else matters).
bool read_flags(Command& cmd, const std::vector<std::string>& args,
                std::vector<std::string>& words) {
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_words || a.size() < 2 || a[0] != '-' || (a[1] != '-' && a != "-h" && a != "-V")) {
      words.push_back(a);
      continue;
    }
    if (a == "--") {
      only_words = true;
      continue;
    }
    if (a == "--help" || a == "-h" || a == "--version" || a == "-V") {
      cmd.action = a == "--help" || a == "-h" ? Action::help : Action::version;
      return false;
    }
    std::string flag = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const OptionSpec* spec = find_option(flag);
    if (!spec)
      throw UsageError(fmt::format("unknown option \"{}\" (see hamba --help)", flag));
    if (!has_value && spec->implied) {
      // A value that may be left out is still taken when the next word is a path (--docker
      // /run/docker.sock): no port or server starts with '/'.
      if (spec->implied[0] == '/' && i + 1 < args.size() && args[i + 1].starts_with('/'))
        value = args[++i];
      else
        value = spec->implied;
    } else if (!has_value) {
      if (i + 1 == args.size())
        throw UsageError(fmt::format("option \"{}\" needs a value", flag));
      value = args[++i];
    }
    take(cmd, *spec, flag, value);
  }
  return true;
}

const char* action_word(Action action) {
  switch (action) {
  case Action::status:
    return "status";
  case Action::showconfig:
    return "showconfig";
  case Action::enable:
    return "enable";
  case Action::disable:
    return "disable";
  case Action::drain:
    return "drain";
  case Action::weight:
    return "weight";
  case Action::reconfigure:
    return "reconfigure";
  case Action::debugconfig:
    return "debugconfig";
  default:
    return "run";
  }
}

// The first word: an action, or the listen port of `[ADDR:]PORT SERVER...`. Returns the words
// that follow the action (all of them when there is none).
std::vector<std::string> read_action(Command& cmd, const std::vector<std::string>& words) {
  static const std::map<std::string, Action> actions = {
      {"run", Action::run},
      {"reconfigure", Action::reconfigure},
      {"debugconfig", Action::debugconfig},
      {"showconfig", Action::showconfig},
      {"status", Action::status},
      {"enable", Action::enable},
      {"disable", Action::disable},
      {"drain", Action::drain},
      {"weight", Action::weight},
  };
  cmd.action = Action::run;
  if (words.empty())
    return words;
  const std::string& first = words.front();
  if (auto it = actions.find(first); it != actions.end()) {
    cmd.action = it->second;
    return {words.begin() + 1, words.end()};
  }
  if (!is_number(first) && first.find(':') == std::string::npos)
    throw UsageError(
        fmt::format("\"{}\" is neither a command nor a port (see hamba --help)", first));
  return words;
}

// What follows the action: nothing, one HOST:PORT, or a configuration.
void read_arguments(Command& cmd, const std::vector<std::string>& words) {
  const char* name = action_word(cmd.action);
  switch (cmd.action) {
  case Action::showconfig:
  case Action::status:
    if (!words.empty())
      throw UsageError(fmt::format("{} takes no argument, not \"{}\"", name, words[0]));
    return;
  case Action::weight: {
    if (words.size() != 2)
      throw UsageError("weight takes HOST:PORT and a weight from 1 to 256");
    config::Endpoint e = endpoint_or_usage_error(words[0]);
    if (e.host.empty())
      throw UsageError(fmt::format("weight \"{}\": write HOST:PORT", words[0]));
    cmd.target = words[0];
    int w = 0;
    const std::string& v = words[1];
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), w);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || w < 1 || w > 256)
      throw UsageError(fmt::format("weight \"{}\" must be a number from 1 to 256", v));
    cmd.weight = w;
    return;
  }
  case Action::enable:
  case Action::disable:
  case Action::drain: {
    if (words.size() != 1)
      throw UsageError(
          fmt::format("{} takes one HOST:PORT{}", name,
                      words.empty() ? std::string() : fmt::format(", not \"{}\"", words[1])));
    config::Endpoint e = endpoint_or_usage_error(words[0]);
    if (e.host.empty())
      throw UsageError(fmt::format("{} \"{}\": write HOST:PORT", name, words[0]));
    cmd.target = words[0];
    return;
  }
  case Action::reconfigure:
  case Action::debugconfig:
    if (words.empty() && cmd.config_files.empty())
      throw UsageError(
          fmt::format("{} needs a configuration (PORT SERVER... or --config FILE)", name));
    [[fallthrough]];
  default:
    if (!words.empty()) {
      cmd.config.frontends.push_back(frontend_from_words(words));
      cmd.has_frontend = true;
    }
  }
}

} // namespace

Command parse(std::vector<std::string> args, const Environment& env) {
  Command cmd;
  args = resplit(std::move(args));
  if (args.empty())
    return cmd; // Action::usage

  read_environment(cmd, env);
  // --config on the command line replaces HAMBA_CONFIG's files rather than adding to them.
  std::vector<std::string> env_config_files = std::exchange(cmd.config_files, {});
  std::vector<std::string> words;
  if (!read_flags(cmd, args, words))
    return cmd;
  if (cmd.config_files.empty())
    cmd.config_files = std::move(env_config_files);
  // Only options: nothing to do but show how to use it (Action::usage); but --docker alone
  // serves what the labels say.
  if (words.empty() && cmd.config_files.empty()) {
    config::Config docker_only;
    apply_options(cmd.options, docker_only);
    if (!docker_only.docker)
      return cmd;
  }

  read_arguments(cmd, read_action(cmd, words));
  apply_options(cmd.options, cmd.config);
  try {
    config::load_cidr_files(cmd.config);
    config::validate(cmd.config);
  } catch (const config::ConfigError& e) {
    throw UsageError(e.what());
  }
  return cmd;
}

} // namespace hamba::cli
