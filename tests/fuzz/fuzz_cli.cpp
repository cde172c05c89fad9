// Fuzz target for the command line (cli/parse): the input is argv words separated by NUL bytes,
// then, after an empty word, environment entries NAME=VALUE. parse() either throws UsageError
// or gives a command whose configuration is valid and prints as YAML that loads back the same.
#include "cli/command.h"
#include "config/config.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>
#include <vector>

using namespace hamba;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> words{std::string()};
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      words.emplace_back();
    else
      words.back() += static_cast<char>(data[i]);
  }
  std::vector<std::string> args;
  cli::Environment env;
  bool in_env = false;
  for (auto& w : words) {
    if (!in_env && w.empty() && &w != &words.back()) {
      in_env = true;
      continue;
    }
    if (!in_env) {
      args.push_back(std::move(w));
    } else if (auto eq = w.find('='); eq != std::string::npos) {
      env[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  if (args.size() == 1 && args[0].empty())
    args.clear();

  cli::Command command;
  try {
    command = cli::parse(args, env);
  } catch (const cli::UsageError&) {
    return 0;
  }
  if (command.has_frontend) {
    const std::string yaml = config::to_yaml(command.config);
    config::Config again = config::load_yaml_text(yaml, "<fuzz>"); // throws: a finding
    check(again == command.config);
  }
  return 0;
}
