// Unit tests for control/connection_log.cpp: the text (logfmt) and JSON per-connection lines.
#include "control/connection_log.h"

#include <doctest/doctest.h>

using namespace hamba::control;

TEST_CASE("connection log: formats by name, bad words refused") {
  CHECK(parse_connection_log_format("text") == ConnectionLogFormat::text);
  CHECK(parse_connection_log_format("json") == ConnectionLogFormat::json);
  CHECK(parse_connection_log_format("") == ConnectionLogFormat::off);
  CHECK(parse_connection_log_format("off") == ConnectionLogFormat::off);
  CHECK_THROWS_WITH_AS(parse_connection_log_format("xml"), doctest::Contains("'xml'"),
                       std::invalid_argument);
}

TEST_CASE("connection log: one line with every field, quoted where needed") {
  ConnectionRecord r{"80",
                     "127.0.0.1:40112",
                     "rng1:80",
                     "127.0.0.2:80",
                     78,
                     1432,
                     std::chrono::milliseconds(12),
                     "client closed"};
  const std::string t = "2026-11-26T16:00:00.123Z";
  CHECK(format_connection(r, ConnectionLogFormat::text, t) ==
        "2026-11-26T16:00:00.123Z conn frontend=80 client=127.0.0.1:40112 server=rng1:80 "
        "address=127.0.0.2:80 bytes_in=78 bytes_out=1432 duration_ms=12 end=\"client closed\"");
  CHECK(format_connection(r, ConnectionLogFormat::json, t) ==
        "{\"time\":\"2026-11-26T16:00:00.123Z\",\"event\":\"connection\",\"frontend\":\"80\","
        "\"client\":\"127.0.0.1:40112\",\"server\":\"rng1:80\",\"address\":\"127.0.0.2:80\","
        "\"bytes_in\":78,\"bytes_out\":1432,\"duration_ms\":12,\"end\":\"client closed\"}");
  CHECK(format_connection(r, ConnectionLogFormat::off, t).empty());

  ConnectionRecord none{"web",
                        "[::1]:5000",
                        "",
                        "",
                        0,
                        0,
                        std::chrono::milliseconds(5003),
                        "no server: \"a:1\" refused"};
  CHECK(format_connection(none, ConnectionLogFormat::text, t) ==
        "2026-11-26T16:00:00.123Z conn frontend=web client=[::1]:5000 server=- address=- "
        "bytes_in=0 bytes_out=0 duration_ms=5003 end=\"no server: \\\"a:1\\\" refused\"");
  CHECK(format_connection(none, ConnectionLogFormat::json, t)
            .find("\"server\":\"\",\"address\":\"\"") != std::string::npos);
  CHECK(format_connection(none, ConnectionLogFormat::json, t)
            .find("\"end\":\"no server: \\\"a:1\\\" refused\"") != std::string::npos);
}
