// Unit tests for config/admission.h: allow/deny lists and their files, accept_proxy's map form,
// per_source, in YAML and in debugconfig's printing.
#include "config/config.h"

#include <cstdio>
#include <doctest/doctest.h>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace hamba::config;
using namespace std::chrono_literals;

namespace {

std::string error_of(const std::string& text) {
  try {
    load_yaml_text(text, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Address128 addr(const std::string& text) {
  return parse_cidr_word(text).base;
}

// A temporary file holding `text`, removed at the end of the scope.
struct TempFile {
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/hamba-admission-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
    write(text);
  }
  void write(const std::string& text) const { std::ofstream(path) << text; }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

const std::string kHead = "frontends:\n  - bind: \":80\"\n    servers: [a:1]\n";

} // namespace

TEST_CASE("admission yaml: lists, files, accept_proxy from and per_source read into the model") {
  TempFile allow("# partners\n192.168.0.0/16\n");
  Config c = load_yaml_text(kHead +
                                "    allow: [\"10.0.0.0/8\", \"2001:db8::/32\"]\n"
                                "    deny: 10.9.0.0/16\n"
                                "    allow_file: " +
                                allow.path +
                                "\n"
                                "    accept_proxy: {from: [\"127.0.0.2/32\"], optional: true}\n"
                                "    per_source: {maxconn: 10, rate: \"20/2s\", ipv6_prefix: 48, "
                                "table_size: 500, action: tarpit, tarpit_delay: 3s}\n",
                            "test.yaml");
  const Frontend& f = c.frontends.at(0);
  CHECK(f.allow.cidrs.size() == 2);
  CHECK(f.allow.contains(addr("10.1.2.3")));
  CHECK(f.allow.contains(addr("192.168.3.4"))); // from the file
  CHECK(!f.allow.contains(addr("172.16.0.1")));
  CHECK(f.deny.contains(addr("10.9.0.1")));
  CHECK(f.accept_proxy);
  CHECK(f.proxy_optional);
  CHECK(f.proxy_from.contains(addr("127.0.0.2")));
  CHECK(!f.proxy_from.contains(addr("127.0.0.3")));
  CHECK(f.per_source.maxconn == 10);
  CHECK(f.per_source.rate_count == 20);
  CHECK(f.per_source.rate_window == 2s);
  CHECK(f.per_source.ipv6_prefix == 48);
  CHECK(f.per_source.table_size == 500);
  CHECK(f.per_source.action == OverLimit::tarpit);
  CHECK(f.per_source.tarpit_delay == 3s);

  // debugconfig's YAML reads back into the same configuration (the file read again).
  std::string yaml = to_yaml(c);
  CHECK(contains(yaml, "allow_file: \"" + allow.path + "\""));
  CHECK(contains(yaml, "rate: \"20/2s\""));
  CHECK(load_yaml_text(yaml, "again.yaml") == c);
}

TEST_CASE("admission yaml: the scalar accept_proxy still works and prints as before") {
  Config c = load_yaml_text(kHead + "    accept_proxy: true\n", "test.yaml");
  CHECK(c.frontends.at(0).accept_proxy);
  CHECK(!c.frontends.at(0).proxy_from.given());
  CHECK(contains(to_yaml(c), "accept_proxy: true"));
}

TEST_CASE("admission yaml: a changed list file makes a different configuration") {
  TempFile deny("10.0.0.0/8\n");
  const std::string text = kHead + "    deny_file: " + deny.path + "\n";
  Config before = load_yaml_text(text, "test.yaml");
  CHECK(load_yaml_text(text, "test.yaml") == before);
  deny.write("10.0.0.0/8\n11.0.0.0/8\n");
  Config after = load_yaml_text(text, "test.yaml");
  CHECK(!(after == before));
  CHECK(after.frontends.at(0).deny.contains(addr("11.1.1.1")));
}

TEST_CASE("admission yaml: bad CIDRs, rates, files and shapes name the word and the place") {
  CHECK(contains(error_of(kHead + "    allow: [10.0.0.0/8, 10.0.0.300]\n"),
                 "test.yaml:4:25: '10.0.0.300' is not an address"));
  CHECK(contains(error_of(kHead + "    deny: [10.1.2.3/8]\n"), "write 10.0.0.0/8"));
  CHECK(contains(error_of(kHead + "    per_source: {rate: \"20/1x\"}\n"),
                 "test.yaml:4:24: rate \"20/1x\""));
  CHECK(contains(error_of(kHead + "    per_source: {rate: \"x/1s\"}\n"), "rate \"x/1s\""));
  CHECK(contains(error_of(kHead + "    per_source: {maxconn: 0}\n"), "maxconn: 0 must be"));
  CHECK(contains(error_of(kHead + "    per_source: {ipv6_prefix: 129, maxconn: 1}\n"),
                 "ipv6_prefix: 129"));
  CHECK(contains(error_of(kHead + "    per_source: {action: drop, maxconn: 1}\n"),
                 "'drop' is neither reject nor tarpit"));
  CHECK(contains(error_of(kHead + "    per_source: {table_size: 5}\n"), "give maxconn, rate"));
  CHECK(contains(error_of(kHead + "    accept_proxy: {optional: true}\n"), "`from` lists"));
  CHECK(contains(error_of(kHead + "    accept_proxy: {from: [x]}\n"), "'x' is not an address"));
  CHECK(contains(error_of(kHead + "    allow_file: /nonexistent/allow.lst\n"),
                 "/nonexistent/allow.lst: cannot read"));
  TempFile bad("10.0.0.0/8\n# ok\n  nonsense\n");
  CHECK(contains(error_of(kHead + "    deny_file: " + bad.path + "\n"),
                 bad.path + ":3:3: 'nonsense' is not an address"));
}

TEST_CASE("admission: rates parse and print") {
  int n = 0;
  std::chrono::milliseconds w{};
  parse_rate("100/10s", n, w);
  CHECK(n == 100);
  CHECK(w == 10s);
  CHECK(format_rate(n, w) == "100/10s");
  parse_rate("5/250ms", n, w);
  CHECK(format_rate(n, w) == "5/250ms");
  CHECK_THROWS_AS(parse_rate("5", n, w), ConfigError);
  CHECK_THROWS_AS(parse_rate("0/1s", n, w), ConfigError);
  CHECK_THROWS_AS(parse_rate("5/0s", n, w), ConfigError);
  CHECK_THROWS_AS(parse_rate("5/25h", n, w), ConfigError);
  CHECK_THROWS_AS(parse_rate("/1s", n, w), ConfigError);
}
