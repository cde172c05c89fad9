// The ClientHello peeker (see tls_client_hello.h): first the handshake message is gathered out
// of its records (each record header checked), then the message is read field by field, every
// length checked against what is left.
#include "net/tls_client_hello.h"

#include <cstring>

namespace hamba::net {

namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHelloType = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordPayload = 16384; // 2^14
constexpr uint16_t kServerNameExtension = 0;
constexpr uint8_t kHostNameType = 0;

ClientHelloResult with(ClientHelloStatus status, const char* reason) {
  ClientHelloResult r;
  r.status = status;
  r.reason = reason;
  return r;
}

// Reads a handshake message front to back; any read past the end leaves ok false.
struct Reader {
  const uint8_t* p;
  size_t left;
  bool ok = true;

  const uint8_t* take(size_t n) {
    if (!ok || n > left) {
      ok = false;
      return nullptr;
    }
    const uint8_t* at = p;
    p += n;
    left -= n;
    return at;
  }
  unsigned u8() {
    const uint8_t* b = take(1);
    return b ? b[0] : 0;
  }
  unsigned u16() {
    const uint8_t* b = take(2);
    return b ? (unsigned{b[0]} << 8 | b[1]) : 0;
  }
};

// Checks and stores a host_name: letters (lower-cased), digits, '-', '_' and '.', no empty label.
bool store_name(const uint8_t* name, size_t size, ClientHelloResult& r) {
  if (size == 0 || size > kServerNameMaxSize)
    return false;
  for (size_t i = 0; i < size; ++i) {
    char ch = static_cast<char>(name[i]);
    if (ch >= 'A' && ch <= 'Z')
      ch = static_cast<char>(ch - 'A' + 'a');
    const bool label_char =
        (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    if (ch == '.') {
      if (i == 0 || i + 1 == size || name[i - 1] == '.')
        return false;
    } else if (!label_char) {
      return false;
    }
    r.name[i] = ch;
  }
  r.name_size = static_cast<uint8_t>(size);
  return true;
}

// Reads the server_name extension's list into r; returns why it is malformed, or nullptr.
const char* parse_server_name(Reader ext, ClientHelloResult& r) {
  const size_t list = ext.u16();
  if (!ext.ok || list != ext.left || list == 0)
    return "server_name list length does not match";
  bool have_host = false;
  while (ext.left > 0) {
    const unsigned type = ext.u8();
    const size_t size = ext.u16();
    const uint8_t* name = ext.take(size);
    if (!ext.ok)
      return "server_name entry runs past its list";
    if (type != kHostNameType)
      continue; // no other name type is defined; its entry is skipped
    if (have_host)
      return "server_name has two host names";
    if (!store_name(name, size, r))
      return "server_name is not a DNS host name";
    have_host = true;
  }
  return nullptr;
}

ClientHelloResult parse_client_hello(const uint8_t* body, size_t size) {
  ClientHelloResult r;
  Reader in{body, size};
  in.take(2 + 32); // legacy_version, random
  const size_t session_id = in.u8();
  if (session_id > 32)
    return with(ClientHelloStatus::malformed, "session id longer than 32 bytes");
  in.take(session_id);
  const size_t suites = in.u16();
  if (in.ok && (suites < 2 || suites % 2 != 0))
    return with(ClientHelloStatus::malformed, "cipher suites list has a bad length");
  in.take(suites);
  const size_t compression = in.u8();
  if (in.ok && compression < 1)
    return with(ClientHelloStatus::malformed, "compression methods list is empty");
  in.take(compression);
  if (!in.ok)
    return with(ClientHelloStatus::malformed, "ClientHello fields run past its end");
  r.status = ClientHelloStatus::done;
  if (in.left == 0) // no extensions (allowed before TLS 1.3): no name
    return r;

  const size_t extensions = in.u16();
  if (!in.ok || extensions != in.left)
    return with(ClientHelloStatus::malformed, "extensions do not end with the ClientHello");
  bool seen_server_name = false;
  while (in.left > 0) {
    const unsigned type = in.u16();
    const size_t length = in.u16();
    const uint8_t* data = in.take(length);
    if (!in.ok)
      return with(ClientHelloStatus::malformed, "extension runs past the ClientHello");
    if (type != kServerNameExtension)
      continue;
    if (seen_server_name)
      return with(ClientHelloStatus::malformed, "two server_name extensions");
    seen_server_name = true;
    if (const char* reason = parse_server_name(Reader{data, length}, r))
      return with(ClientHelloStatus::malformed, reason);
  }
  return r;
}

} // namespace

ClientHelloResult peek_client_hello(const char* chars, size_t size) {
  const auto* data = reinterpret_cast<const uint8_t*>(chars);
  const bool at_bound = size >= kClientHelloMaxBytes;
  if (at_bound)
    size = kClientHelloMaxBytes;
  if (size == 0)
    return {};
  if (data[0] != kHandshakeRecord)
    return with(ClientHelloStatus::not_tls, "first byte is not a TLS handshake record");
  if (size >= 2 && data[1] != 3)
    return with(ClientHelloStatus::not_tls, "record version is not TLS (3.x)");

  // The handshake message, gathered from its records. The fragments together are smaller than
  // the bytes examined, so this stack buffer always holds them.
  uint8_t message[kClientHelloMaxBytes];
  size_t have = 0;
  size_t need = 0; // 4 + the message's length, once its header has arrived
  size_t pos = 0;
  for (;;) {
    const uint8_t* record = data + pos;
    if (pos < size && record[0] != kHandshakeRecord)
      return with(ClientHelloStatus::malformed, "another record type before the ClientHello ended");
    if (pos + 1 < size && record[1] != 3)
      return with(ClientHelloStatus::malformed, "record version is not TLS (3.x)");
    if (pos + kRecordHeader > size)
      break;
    const size_t length = size_t{record[3]} << 8 | record[4];
    if (length == 0 || length > kMaxRecordPayload)
      return with(ClientHelloStatus::malformed, "handshake record length is 0 or over 2^14");
    const size_t arrived = size - pos - kRecordHeader;
    const size_t avail = arrived < length ? arrived : length;
    std::memcpy(message + have, record + kRecordHeader, avail);
    have += avail;
    if (have >= 1 && message[0] != kClientHelloType)
      return with(ClientHelloStatus::malformed, "first handshake message is not a ClientHello");
    if (need == 0 && have >= 4) {
      need = 4 + (size_t{message[1]} << 16 | size_t{message[2]} << 8 | message[3]);
      if (need + kRecordHeader > kClientHelloMaxBytes)
        return with(ClientHelloStatus::malformed, "ClientHello longer than 16 KiB");
    }
    if (need != 0 && have >= need)
      return parse_client_hello(message + 4, need - 4);
    if (avail < length)
      break;
    pos += kRecordHeader + length;
  }
  if (at_bound)
    return with(ClientHelloStatus::malformed, "ClientHello does not end within 16 KiB");
  return {};
}

} // namespace hamba::net
