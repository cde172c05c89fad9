// The command-line parser: words and environment -> cli::Command (see command.h).
//
// The original's rules: the first word (after options) is an action or the listen port; then
// servers, where a word with a colon is HOST:PORT and a word without one takes the next word
// as its port. A first argument containing spaces is split again, for platforms that pass the
// whole command as one string.
#include "cli/command.h"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <sstream>

namespace hamba::cli {

namespace {

struct OptionSpec {
  const char* flag;
  const char* env; // nullptr: no variable
};

// Every option that takes a value, with its variable. Flags without a value are handled apart.
const OptionSpec option_specs[] = {
    {"--connect-timeout", "HAMBA_CONNECT_TIMEOUT"},
    {"--idle-timeout", "HAMBA_IDLE_TIMEOUT"},
    {"--check-interval", "HAMBA_CHECK_INTERVAL"},
    {"--resolve-interval", "HAMBA_RESOLVE_INTERVAL"},
    {"--dns-hold", "HAMBA_DNS_HOLD"},
    {"--grace", "HAMBA_GRACE"},
    {"--maxconn", "HAMBA_MAXCONN"},
    {"--server-maxconn", "HAMBA_SERVER_MAXCONN"},
    {"--threads", "HAMBA_THREADS"},
    {"--retries", "HAMBA_RETRIES"},
    {"--balance", "HAMBA_BALANCE"},
    {"--admin", "HAMBA_ADMIN"},
    {"--control", "HAMBA_CONTROL"},
    {"--config", "HAMBA_CONFIG"},
    {"--log-connections", "HAMBA_LOG_CONNECTIONS"},
    {"--send-proxy", "HAMBA_SEND_PROXY"},
    {"--accept-proxy", "HAMBA_ACCEPT_PROXY"}, // as a flag, the value may be left out: true
};

config::Duration duration_value(const std::string& name, const std::string& value) {
  try {
    return config::parse_duration(value);
  } catch (const config::ConfigError&) {
    throw UsageError(
        fmt::format("{} \"{}\" is not a duration (write 250ms, 5s, 2m or 1h)", name, value));
  }
}

int count_value(const std::string& name, const std::string& value, int minimum) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size())
    throw UsageError(fmt::format("{} \"{}\" is not a number", name, value));
  if (n < minimum)
    throw UsageError(fmt::format("{} \"{}\" must be at least {}", name, value, minimum));
  return n;
}

// Stores one option's value; `name` is the flag or variable, for errors.
void set_option(Command& cmd, const std::string& flag, const std::string& name,
                const std::string& value) {
  Options& o = cmd.options;
  if (flag == "--connect-timeout")
    o.connect_timeout = duration_value(name, value);
  else if (flag == "--idle-timeout")
    o.idle_timeout = duration_value(name, value);
  else if (flag == "--check-interval")
    o.check_interval = duration_value(name, value);
  else if (flag == "--resolve-interval")
    o.resolve_interval = duration_value(name, value);
  else if (flag == "--dns-hold")
    o.dns_hold = duration_value(name, value);
  else if (flag == "--grace")
    o.grace = duration_value(name, value);
  else if (flag == "--maxconn")
    o.maxconn = count_value(name, value, 1);
  else if (flag == "--server-maxconn")
    o.server_maxconn = count_value(name, value, 1);
  else if (flag == "--threads") {
    o.threads = count_value(name, value, 1);
    if (*o.threads > config::kMaxThreads)
      throw UsageError(
          fmt::format("{} \"{}\" must be at most {}", name, value, config::kMaxThreads));
  } else if (flag == "--retries")
    o.retries = count_value(name, value, 0);
  else if (flag == "--balance") {
    if (value == "roundrobin")
      o.balance = config::Balance::roundrobin;
    else if (value == "leastconn")
      o.balance = config::Balance::leastconn;
    else
      throw UsageError(fmt::format("{} \"{}\" is not a balance algorithm (roundrobin or leastconn)",
                                   name, value));
  } else if (flag == "--admin") {
    try {
      config::parse_endpoint(value);
    } catch (const config::ConfigError& e) {
      throw UsageError(fmt::format("{}: {}", name, e.what()));
    }
    o.admin = value;
  } else if (flag == "--control")
    cmd.control_path = value;
  else if (flag == "--config")
    cmd.config_files.push_back(value);
  else if (flag == "--send-proxy") {
    if (value == "v1")
      o.send_proxy = config::ProxyProtocol::v1;
    else if (value == "v2")
      o.send_proxy = config::ProxyProtocol::v2;
    else if (value == "none")
      o.send_proxy = config::ProxyProtocol::none;
    else
      throw UsageError(
          fmt::format("{} \"{}\" is not a PROXY protocol version (v1, v2 or none)", name, value));
  } else if (flag == "--accept-proxy") {
    if (value == "true" || value == "yes" || value == "1")
      o.accept_proxy = true;
    else if (value == "false" || value == "no" || value == "0")
      o.accept_proxy = false;
    else
      throw UsageError(fmt::format("{} \"{}\" is neither true nor false", name, value));
  } else if (flag == "--log-connections") {
    if (value != "text" && value != "json" && value != "off")
      throw UsageError(
          fmt::format("{} \"{}\" is not a log format (text, json or off)", name, value));
    o.log_connections = value;
  }
}

const OptionSpec* find_option(const std::string& flag) {
  for (const OptionSpec& spec : option_specs)
    if (flag == spec.flag)
      return &spec;
  return nullptr;
}

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
  for (const OptionSpec& spec : option_specs)
    if (const char* v = std::getenv(spec.env))
      env[spec.env] = v;
  if (const char* v = std::getenv("ADMIN"))
    env["ADMIN"] = v;
  return env;
}

void apply_options(const Options& o, config::Config& config) {
  // An option given overrides the field; one not given leaves the configuration's value.
  const auto take = [](auto& field, const auto& option) {
    if (option)
      field = *option;
  };
  take(config.maxconn, o.maxconn);
  take(config.threads, o.threads);
  take(config.grace, o.grace);
  take(config.admin, o.admin);
  for (config::Frontend& f : config.frontends) {
    take(f.connect_timeout, o.connect_timeout);
    take(f.idle_timeout, o.idle_timeout);
    take(f.check.interval, o.check_interval);
    take(f.resolve_interval, o.resolve_interval);
    take(f.dns_hold, o.dns_hold);
    take(f.retries, o.retries);
    take(f.balance, o.balance);
    take(f.accept_proxy, o.accept_proxy);
    take(f.send_proxy, o.send_proxy);
    for (config::Server& s : f.servers)
      take(s.maxconn, o.server_maxconn);
    for (config::Route& r : f.routes) {
      take(r.send_proxy, o.send_proxy);
      for (config::Server& s : r.servers)
        take(s.maxconn, o.server_maxconn);
    }
  }
}

Command parse(std::vector<std::string> args, const Environment& env) {
  Command cmd;
  if (args.empty())
    return cmd; // Action::usage
  if (args.front().find_first_of(" \t\n") != std::string::npos) {
    std::vector<std::string> words = split_words(args.front());
    words.insert(words.end(), args.begin() + 1, args.end());
    args = std::move(words);
    if (args.empty())
      return cmd;
  }

  // Variables first, so options on the command line win. ADMIN is the original's name.
  if (auto it = env.find("ADMIN"); it != env.end() && !it->second.empty())
    set_option(cmd, "--admin", "ADMIN", it->second);
  for (const OptionSpec& spec : option_specs)
    if (auto it = env.find(spec.env); it != env.end() && !it->second.empty())
      set_option(cmd, spec.flag, spec.env, it->second);
  std::vector<std::string> env_config_files = std::move(cmd.config_files);
  cmd.config_files.clear();

  std::vector<std::string> words;
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
    if (a == "--help" || a == "-h") {
      cmd.action = Action::help;
      return cmd;
    }
    if (a == "--version" || a == "-V") {
      cmd.action = Action::version;
      return cmd;
    }
    std::string flag = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (!find_option(flag))
      throw UsageError(fmt::format("unknown option \"{}\" (see hamba --help)", flag));
    if (!has_value && flag == "--accept-proxy") {
      value = "true";
    } else if (!has_value) {
      if (i + 1 == args.size())
        throw UsageError(fmt::format("option \"{}\" needs a value", flag));
      value = args[++i];
    }
    set_option(cmd, flag, flag, value);
  }
  if (cmd.config_files.empty())
    cmd.config_files = std::move(env_config_files);

  std::vector<std::string> config_words = words;
  cmd.action = Action::run;
  if (!words.empty()) {
    const std::string& first = words.front();
    static const std::map<std::string, Action> actions = {
        {"run", Action::run},
        {"reconfigure", Action::reconfigure},
        {"debugconfig", Action::debugconfig},
        {"showconfig", Action::showconfig},
        {"status", Action::status},
        {"enable", Action::enable},
        {"disable", Action::disable},
        {"drain", Action::drain},
    };
    if (auto it = actions.find(first); it != actions.end()) {
      cmd.action = it->second;
      config_words.erase(config_words.begin());
    } else if (!is_number(first) && first.find(':') == std::string::npos) {
      throw UsageError(
          fmt::format("\"{}\" is neither a command nor a port (see hamba --help)", first));
    }
  } else if (cmd.config_files.empty()) {
    // Only options: nothing to do but show how to use it.
    cmd.action = Action::usage;
    return cmd;
  }

  switch (cmd.action) {
  case Action::showconfig:
  case Action::status:
    if (!config_words.empty())
      throw UsageError(fmt::format("{} takes no argument, not \"{}\"",
                                   cmd.action == Action::status ? "status" : "showconfig",
                                   config_words[0]));
    break;
  case Action::enable:
  case Action::disable:
  case Action::drain: {
    const char* name = cmd.action == Action::enable    ? "enable"
                       : cmd.action == Action::disable ? "disable"
                                                       : "drain";
    if (config_words.size() != 1)
      throw UsageError(fmt::format(
          "{} takes one HOST:PORT{}", name,
          config_words.empty() ? std::string() : fmt::format(", not \"{}\"", config_words[1])));
    config::Endpoint e = endpoint_or_usage_error(config_words[0]);
    if (e.host.empty())
      throw UsageError(fmt::format("{} \"{}\": write HOST:PORT", name, config_words[0]));
    cmd.target = config_words[0];
    break;
  }
  case Action::reconfigure:
  case Action::debugconfig:
    if (config_words.empty() && cmd.config_files.empty())
      throw UsageError(
          fmt::format("{} needs a configuration (PORT SERVER... or --config FILE)",
                      cmd.action == Action::reconfigure ? "reconfigure" : "debugconfig"));
    [[fallthrough]];
  default:
    if (!config_words.empty()) {
      cmd.config.frontends.push_back(frontend_from_words(config_words));
      cmd.has_frontend = true;
    }
  }
  apply_options(cmd.options, cmd.config);
  try {
    config::validate(cmd.config);
  } catch (const config::ConfigError& e) {
    throw UsageError(e.what());
  }
  return cmd;
}

} // namespace hamba::cli
