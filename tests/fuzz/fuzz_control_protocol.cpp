// Fuzz target for the control socket's wire format (control/protocol): any bytes either throw
// std::invalid_argument or decode to a request (a reply) whose encoding decodes to a value that
// is stable from then on: what a client sends is what the server reads.
#include "control/protocol.h"
#include "fuzz_check.h"

#include <cstdint>
#include <stdexcept>
#include <string>

using namespace hamba::control;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const Request first = decode_request(text);
    check(!first.command.empty());
    const Request second = decode_request(encode_request(first));
    check(second.command == first.command && second.payload == first.payload);
    check(decode_request(encode_request(second)) == second);
  } catch (const std::invalid_argument&) {
  }
  try {
    const Reply first = decode_reply(text);
    const Reply second = decode_reply(encode_reply(first));
    check(second.ok == first.ok);
    check(decode_reply(encode_reply(second)) == second);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
