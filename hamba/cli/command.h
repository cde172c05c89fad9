// The command line as data: which action to run and with what configuration.
//
//     hamba 80 rng1:80 rng2 80          -> Action::run, one frontend on port 80, two servers
//     hamba --balance leastconn 80 a:1  -> options apply to the frontend
//     hamba debugconfig 80 a:1          -> Action::debugconfig (prints the config as YAML)
//
// parse() never touches the network or the file system; it only reads words and the
// environment (every option also has a variable, for compose files). Errors throw UsageError,
// whose what() names the bad word; main turns it into exit status 2.
#pragma once

#include "config/config.h"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace hamba::cli {

enum class Action {
  usage,       // no argument at all: print the usage
  help,        // --help
  version,     // --version
  run,         // `hamba [run] [CONFIG...]`: serve (an empty config is allowed with `run`)
  reconfigure, // hand a new config to the running instance (control socket)
  debugconfig, // print the configuration the words mean, run nothing
  showconfig,  // print the running instance's configuration
  status,      // one line of the running instance's state; exit 0 while it serves
  enable,      // server admin state of `target`
  disable,
  drain,
  weight, // `hamba weight HOST:PORT N`: a server's weight, live
};

struct OptionSpec;

// One option of the configuration as given (a flag or its variable), its value checked: kept
// to be applied on top of the command line's frontend and of --config files alike.
struct GivenOption {
  const OptionSpec* spec;
  std::string value;
  bool operator==(const GivenOption&) const = default;
};

struct Command {
  Action action = Action::usage;
  config::Config config;                 // from the words, with the options applied
  bool has_frontend = false;             // the words named a port and servers
  std::vector<std::string> config_files; // --config FILE (repeatable), HAMBA_CONFIG
  std::string control_path;              // --control PATH, HAMBA_CONTROL ("" = the default)
  std::string target;                    // enable|disable|drain|weight HOST:PORT
  int weight = 0;                        // weight HOST:PORT N
  std::string log_connections = "off";   // --log-connections, HAMBA_LOG_CONNECTIONS
  std::vector<GivenOption> options;      // in the order read: variables, then flags
};

// Bad command line; what() is one line naming the bad word.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The environment variables parse() reads, by name (main passes the real ones; tests a map).
using Environment = std::map<std::string, std::string>;
Environment environment_from_process();

// argv without the program name. Throws UsageError.
Command parse(std::vector<std::string> args, const Environment& env);

// Applies the options, in order, on top of a configuration (every frontend, every server).
void apply_options(const std::vector<GivenOption>& options, config::Config& config);

// The text printed for no argument and for --help.
std::string usage_text();

} // namespace hamba::cli
