// Fuzz target for the YAML loader (config/yaml_loader): any text either throws ConfigError or
// gives a valid configuration that prints (to_yaml) as YAML that loads back the same. Any other
// exception, a crash or a hang is a finding.
#include "config/config.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>

using namespace hamba;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) // a configuration is a few KiB; yaml-cpp is not the target's subject
    return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  config::Config loaded;
  try {
    loaded = config::load_yaml_text(text, "<fuzz>");
  } catch (const config::ConfigError&) {
    return 0;
  }
  const std::string yaml = config::to_yaml(loaded);
  config::Config again = config::load_yaml_text(yaml, "<fuzz>"); // throws: a finding
  check(again == loaded);
  check(config::to_yaml(again) == yaml);
  return 0;
}
