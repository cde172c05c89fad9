// Fuzz target for the Docker provider's decoders (discovery/engine_api.h, discovery/labels.h)
// and the streamed body they are read from (base/http_response_parser.h's body sink). The first
// byte picks what the rest is:
//   0  a container list: decoded, then turned into frontends, which must pass config::validate
//      (labels never make a configuration hamba would refuse) and name only listed containers;
//   1  an event stream's lines: each decodes or throws ApiError, nothing else;
//   2  an HTTP answer: its body streamed through the sink, in pieces whose size is the second
//      byte, equals the body parsed whole;
//   3  a Swarm service list, a NUL byte, and a task list: decoded, the tasks turned into
//      containers (of labelled services only) and those into frontends, which must pass
//      config::validate.
#include "base/http_response_parser.h"
#include "config/config.h"
#include "discovery/engine_api.h"
#include "discovery/labels.h"
#include "discovery/swarm.h"
#include "fuzz_check.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

using fuzz::check;
using namespace hamba;

namespace {

void discovered(const std::vector<discovery::Container>& list);

void container_list(std::string_view text) {
  std::vector<discovery::Container> list;
  try {
    list = discovery::parse_container_list(text);
  } catch (const discovery::ApiError&) {
    return;
  }
  discovered(list);
}

void swarm_lists(std::string_view text) {
  size_t nul = std::min(text.find('\0'), text.size());
  std::vector<discovery::Service> services;
  std::vector<discovery::Task> tasks;
  try {
    services = discovery::parse_service_list(text.substr(0, nul));
    tasks = discovery::parse_task_list(text.substr(std::min(nul + 1, text.size())));
  } catch (const discovery::ApiError&) {
    return;
  }
  std::vector<discovery::Container> list = discovery::task_containers(services, tasks);
  for (const discovery::Container& c : list)
    check(discovery::has_hamba_label(c.labels));
  discovery::converging(services, tasks);
  discovered(list);
}

void discovered(const std::vector<discovery::Container>& list) {
  std::set<std::string> names;
  for (const discovery::Container& c : list) {
    check(!c.id.empty());
    check(std::is_sorted(c.exposed_ports.begin(), c.exposed_ports.end()));
    for (int p : c.exposed_ports)
      check(p >= 1 && p <= 65535);
    names.insert(c.name);
  }
  for (const std::string& network : {std::string(), std::string("front")}) {
    discovery::Discovery d = discovery::discover(list, network, {});
    config::Config config;
    config.frontends = d.frontends;
    try {
      config::validate(config);
    } catch (const config::ConfigError&) {
      check(false);
    }
    for (const config::Frontend& f : d.frontends) {
      check(f.provider == "docker");
      for (const config::Server& s : f.servers)
        check(names.count(s.name) == 1);
    }
  }
}

void event_lines(std::string_view text) {
  while (!text.empty()) {
    size_t nl = std::min(text.find('\n'), text.size());
    try {
      discovery::parse_event(text.substr(0, nl));
    } catch (const discovery::ApiError&) {
    }
    text.remove_prefix(std::min(nl + 1, text.size()));
  }
}

void streamed_body(std::string_view text, size_t piece) {
  constexpr size_t kMax = 1 << 16;
  http::ResponseParser whole(kMax);
  whole.expect(false);
  whole.feed(text.data(), text.size());
  whole.feed_eof();
  http::ResponseParser streamed(kMax);
  std::string sunk;
  streamed.set_body_sink([&](std::string_view bytes) { sunk.append(bytes); });
  streamed.expect(false);
  for (size_t at = 0;
       at < text.size() && streamed.state() == http::ResponseParser::State::incomplete;) {
    size_t n = std::min(piece, text.size() - at);
    at += streamed.feed(text.data() + at, n);
    if (streamed.state() == http::ResponseParser::State::incomplete)
      check(at <= text.size());
  }
  streamed.feed_eof();
  if (whole.state() == http::ResponseParser::State::complete &&
      streamed.state() == http::ResponseParser::State::complete) {
    int status = whole.answer().status;
    check(status == streamed.answer().status);
    if (status >= 200 && status < 300) {
      check(sunk == whole.answer().body);
      check(streamed.answer().body.empty());
    } else {
      check(sunk.empty());
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  switch (data[0] % 4) {
  case 0:
    container_list(text);
    break;
  case 1:
    event_lines(text);
    break;
  case 3:
    swarm_lists(text);
    break;
  default:
    streamed_body(text, 1 + data[1] % 32);
  }
  return 0;
}
