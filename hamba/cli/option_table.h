// The command line's options, in one table: flag, environment variable, what the value looks
// like, what it does, the parser that checks it and what it sets in a configuration. parse()
// reads flags and variables through it, apply_options() applies them (to the command line's
// frontend and to --config files alike, so debugconfig shows them), and usage_text() prints its
// lines: the three cannot disagree.
#pragma once

#include "cli/command.h"

#include <span>
#include <string>

namespace hamba::cli {

struct OptionSpec {
  const char* flag;  // "--connect-timeout"
  const char* env;   // "HAMBA_CONNECT_TIMEOUT"
  const char* alias; // an older variable read too ("ADMIN", the original's), or nullptr
  const char* value; // the value's name in the usage: "D", "N", "ADDR:PORT", ... ("": none)
  const char* help;  // what it does, with its default; '\n' continues on the next line
  // Checks `value`; throws UsageError naming `name` (the flag or the variable it came from). An
  // option that is no part of the configuration (--control, --config, --log-connections) stores
  // it in `command` here.
  void (*set)(Command& command, const std::string& name, const std::string& value);
  // Sets a value that `set` accepted in `config` (every frontend's field, or a global one), or
  // nullptr for an option that is no part of the configuration.
  void (*apply)(config::Config& config, const std::string& value);
  // The value of the flag given alone (`--accept-proxy` means true), or nullptr: a value is
  // needed. The variable always has one.
  const char* implied = nullptr;
};

// Every option that takes a value, in the order the usage lists them.
std::span<const OptionSpec> option_table();

// The option whose flag is `flag`, or nullptr.
const OptionSpec* find_option(const std::string& flag);

} // namespace hamba::cli
