// PROXY protocol headers, built and parsed (see proxy_header.h). Facts from HAProxy's
// doc/proxy-protocol.txt: v1 is one ASCII line "PROXY TCP4|TCP6|UNKNOWN ..." ending in CRLF,
// at most 107 bytes; v2 is a 12-byte signature, a version/command byte, a family/transport
// byte, a 16-bit big-endian length, then the addresses (12 bytes for IPv4, 36 for IPv6, 216
// for UNIX) and optional TLVs that a receiver may skip.
#include "net/proxy_header.h"

#include <arpa/inet.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <string_view>

namespace hamba::net {

namespace {

constexpr char kV2Signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                   '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr std::string_view kV1Prefix = "PROXY ";

// One side of a connection, reduced to what a header writes.
struct Side {
  int family = 0; // AF_INET (IPv4 or IPv4-mapped), AF_INET6, or 0 (none, or not IP)
  in_addr v4{};
  in6_addr v6{};
  uint16_t port = 0; // network order
};

Side side_of(const sockaddr* address) {
  Side s;
  if (address == nullptr)
    return s;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    s.family = AF_INET;
    s.v4 = in->sin_addr;
    s.port = in->sin_port;
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    s.port = in6->sin6_port;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      s.family = AF_INET;
      std::memcpy(&s.v4, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      s.family = AF_INET6;
      s.v6 = in6->sin6_addr;
    }
  }
  return s;
}

// Writes an IPv4 side as IPv4-mapped IPv6, for a header whose other side is IPv6.
void map_to_v6(Side& s) {
  if (s.family != AF_INET)
    return;
  std::memset(&s.v6, 0, sizeof s.v6);
  s.v6.s6_addr[10] = 0xff;
  s.v6.s6_addr[11] = 0xff;
  std::memcpy(s.v6.s6_addr + 12, &s.v4, 4);
  s.family = AF_INET6;
}

void append(ProxyHeaderBytes& out, const void* bytes, size_t n) {
  std::memcpy(out.data + out.size, bytes, n);
  out.size += n;
}

ProxyHeaderBytes build_v1(const Side& c, const Side& d) {
  ProxyHeaderBytes out;
  if (c.family == 0) {
    append(out, "PROXY UNKNOWN\r\n", 15);
    return out;
  }
  char cs[INET6_ADDRSTRLEN], ds[INET6_ADDRSTRLEN];
  const bool v4 = c.family == AF_INET;
  inet_ntop(c.family, v4 ? static_cast<const void*>(&c.v4) : &c.v6, cs, sizeof cs);
  inet_ntop(d.family, v4 ? static_cast<const void*>(&d.v4) : &d.v6, ds, sizeof ds);
  int n = std::snprintf(out.data, sizeof out.data, "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6",
                        cs, ds, unsigned{ntohs(c.port)}, unsigned{ntohs(d.port)});
  out.size = n > 0 ? static_cast<size_t>(n) : 0;
  return out;
}

ProxyHeaderBytes build_v2(const Side& c, const Side& d) {
  ProxyHeaderBytes out;
  append(out, kV2Signature, sizeof kV2Signature);
  if (c.family == 0) {
    const unsigned char local[4] = {0x20, 0x00, 0x00, 0x00}; // v2 LOCAL, UNSPEC, no addresses
    append(out, local, sizeof local);
    return out;
  }
  const bool v4 = c.family == AF_INET;
  const unsigned char head[4] = {0x21, static_cast<unsigned char>(v4 ? 0x11 : 0x21), 0,
                                 static_cast<unsigned char>(v4 ? 12 : 36)};
  append(out, head, sizeof head);
  if (v4) {
    append(out, &c.v4, 4);
    append(out, &d.v4, 4);
  } else {
    append(out, &c.v6, 16);
    append(out, &d.v6, 16);
  }
  append(out, &c.port, 2);
  append(out, &d.port, 2);
  return out;
}

void append_tlv(std::string& out, unsigned char type, std::string_view value) {
  out += static_cast<char>(type);
  out += static_cast<char>(value.size() >> 8);
  out += static_cast<char>(value.size() & 0xff);
  out += value;
}

ProxyHeaderResult fail(ProxyVersion version, const char* reason) {
  ProxyHeaderResult r;
  r.status = ProxyHeaderStatus::error;
  r.version = version;
  r.reason = reason;
  return r;
}

// A v1 port: 1 to 5 digits, at most 65535.
bool parse_v1_port(std::string_view word, uint16_t& port_network) {
  if (word.empty() || word.size() > 5)
    return false;
  unsigned value = 0;
  for (char ch : word) {
    if (ch < '0' || ch > '9')
      return false;
    value = value * 10 + static_cast<unsigned>(ch - '0');
  }
  if (value > 65535)
    return false;
  port_network = htons(static_cast<uint16_t>(value));
  return true;
}

bool parse_v1_address(int family, std::string_view word, sockaddr_storage& out) {
  char text[INET6_ADDRSTRLEN];
  if (word.empty() || word.size() >= sizeof text)
    return false;
  std::memcpy(text, word.data(), word.size());
  text[word.size()] = '\0';
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    return inet_pton(AF_INET, text, &in->sin_addr) == 1;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1;
}

void set_port(sockaddr_storage& address, uint16_t port_network) {
  if (address.ss_family == AF_INET)
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = port_network;
  else
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = port_network;
}

ProxyHeaderResult parse_v1(const char* data, size_t size) {
  const size_t limit = size < kProxyV1MaxSize ? size : kProxyV1MaxSize;
  size_t end = 0; // index of the CR of the final CRLF
  bool found = false;
  for (size_t i = kV1Prefix.size(); i < limit; ++i) {
    const auto ch = static_cast<unsigned char>(data[i]);
    if (ch == '\r') {
      if (i + 1 == limit) // the LF may still come
        break;
      if (data[i + 1] != '\n')
        return fail(ProxyVersion::v1, "v1 header has a CR without LF");
      end = i;
      found = true;
      break;
    }
    if (ch < 0x20 || ch > 0x7e)
      return fail(ProxyVersion::v1, "v1 header has a byte that is not printable ASCII");
  }
  if (!found) {
    if (size >= kProxyV1MaxSize)
      return fail(ProxyVersion::v1, "v1 header longer than 107 bytes");
    ProxyHeaderResult r;
    r.version = ProxyVersion::v1;
    return r;
  }

  ProxyHeaderResult r;
  r.status = ProxyHeaderStatus::done;
  r.version = ProxyVersion::v1;
  r.consumed = end + 2;
  std::string_view line(data + kV1Prefix.size(), end - kV1Prefix.size());
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) { // whatever follows is to be ignored
    r.local = true;
    return r;
  }
  std::string_view words[5];
  size_t count = 0;
  for (;;) {
    if (count == 5)
      return fail(ProxyVersion::v1, "v1 header has too many fields");
    const size_t space = line.find(' ');
    words[count++] = line.substr(0, space);
    if (space == std::string_view::npos)
      break;
    line.remove_prefix(space + 1);
  }
  int family = 0;
  if (words[0] == "TCP4")
    family = AF_INET;
  else if (words[0] == "TCP6")
    family = AF_INET6;
  else
    return fail(ProxyVersion::v1, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  if (count != 5)
    return fail(ProxyVersion::v1, "v1 header does not have 2 addresses and 2 ports");
  uint16_t source_port = 0, destination_port = 0;
  if (!parse_v1_address(family, words[1], r.source) ||
      !parse_v1_address(family, words[2], r.destination))
    return fail(ProxyVersion::v1, "v1 address is not an address of its protocol");
  if (!parse_v1_port(words[3], source_port) || !parse_v1_port(words[4], destination_port))
    return fail(ProxyVersion::v1, "v1 port is not a number from 0 to 65535");
  set_port(r.source, source_port);
  set_port(r.destination, destination_port);
  return r;
}

ProxyHeaderResult parse_v2(const unsigned char* data, size_t size) {
  ProxyHeaderResult r;
  r.version = ProxyVersion::v2;
  if (size < 16) {
    // What is there must already be valid.
    if (size > 12 && (data[12] >> 4) != 2)
      return fail(ProxyVersion::v2, "v2 version is not 2");
    return r;
  }
  const unsigned version = data[12] >> 4, command = data[12] & 0x0f;
  const unsigned family = data[13] >> 4, transport = data[13] & 0x0f;
  const size_t length = size_t{data[14]} << 8 | data[15];
  if (version != 2)
    return fail(ProxyVersion::v2, "v2 version is not 2");
  if (command > 1)
    return fail(ProxyVersion::v2, "v2 command is neither LOCAL nor PROXY");
  if (family > 3 || transport > 2)
    return fail(ProxyVersion::v2, "v2 address family or transport is not defined");
  if (length > kProxyV2MaxPayload)
    return fail(ProxyVersion::v2, "v2 header longer than 528 bytes");
  if (size < 16 + length)
    return r;

  r.status = ProxyHeaderStatus::done;
  r.consumed = 16 + length;
  const unsigned char* body = data + 16;
  if (command == 0 || family == 0 || family == 3) { // LOCAL, UNSPEC, UNIX: nothing to use
    r.local = true;
    return r;
  }
  if (transport != 1)
    return fail(ProxyVersion::v2, "v2 transport is not a stream (TCP)");
  if (family == 1) {
    if (length < 12)
      return fail(ProxyVersion::v2, "v2 IPv4 address block shorter than 12 bytes");
    auto* s = reinterpret_cast<sockaddr_in*>(&r.source);
    auto* d = reinterpret_cast<sockaddr_in*>(&r.destination);
    s->sin_family = d->sin_family = AF_INET;
    std::memcpy(&s->sin_addr, body, 4);
    std::memcpy(&d->sin_addr, body + 4, 4);
    std::memcpy(&s->sin_port, body + 8, 2);
    std::memcpy(&d->sin_port, body + 10, 2);
  } else {
    if (length < 36)
      return fail(ProxyVersion::v2, "v2 IPv6 address block shorter than 36 bytes");
    auto* s = reinterpret_cast<sockaddr_in6*>(&r.source);
    auto* d = reinterpret_cast<sockaddr_in6*>(&r.destination);
    s->sin6_family = d->sin6_family = AF_INET6;
    std::memcpy(&s->sin6_addr, body, 16);
    std::memcpy(&d->sin6_addr, body + 16, 16);
    std::memcpy(&s->sin6_port, body + 32, 2);
    std::memcpy(&d->sin6_port, body + 34, 2);
  }
  return r; // TLVs after the addresses are skipped: hamba uses none of them
}

} // namespace

ProxyHeaderBytes build_proxy_header(ProxyVersion version, const sockaddr* client,
                                    const sockaddr* destination) {
  Side c = side_of(client), d = side_of(destination);
  if (c.family == 0 || d.family == 0) {
    c.family = d.family = 0;
  } else if (c.family != d.family) {
    map_to_v6(c);
    map_to_v6(d);
  }
  return version == ProxyVersion::v1 ? build_v1(c, d) : build_v2(c, d);
}

std::string with_tls_tlvs(const ProxyHeaderBytes& header, const ProxyTlsFacts& facts) {
  std::string out(header.data, header.size);
  // Only a v2 PROXY command (0x21) carries TLVs that mean something.
  if (header.size < 16 || std::memcmp(header.data, kV2Signature, sizeof kV2Signature) != 0 ||
      static_cast<unsigned char>(header.data[12]) != 0x21)
    return out;
  constexpr unsigned char kAuthority = 0x02, kSsl = 0x20, kSslVersion = 0x21, kSslCn = 0x22,
                          kSslCipher = 0x23;
  constexpr unsigned char kClientSsl = 0x01, kClientCertConn = 0x02, kClientCertSess = 0x04;
  if (!facts.server_name.empty() && facts.server_name.size() <= 255)
    append_tlv(out, kAuthority, facts.server_name);
  std::string ssl;
  const bool cert = !facts.client_cn.empty();
  ssl += static_cast<char>(kClientSsl | (cert ? kClientCertConn | kClientCertSess : 0));
  ssl.append(4, '\0'); // verify: 0, the certificate (if any) was verified
  append_tlv(ssl, kSslVersion, facts.version.substr(0, 32));
  if (cert)
    append_tlv(ssl, kSslCn, facts.client_cn.substr(0, 64));
  append_tlv(ssl, kSslCipher, facts.cipher.substr(0, 64));
  append_tlv(out, kSsl, ssl);
  const size_t payload = out.size() - 16;
  if (payload > kProxyV2MaxPayload)
    return std::string(header.data, header.size);
  out[14] = static_cast<char>(payload >> 8);
  out[15] = static_cast<char>(payload & 0xff);
  return out;
}

ProxyHeaderResult parse_proxy_header(const char* data, size_t size) {
  if (size == 0)
    return {};
  if (data[0] == kV1Prefix[0]) {
    const size_t n = size < kV1Prefix.size() ? size : kV1Prefix.size();
    if (std::memcmp(data, kV1Prefix.data(), n) != 0)
      return fail(ProxyVersion::v1, "no PROXY header (the connection starts with other bytes)");
    if (size < kV1Prefix.size())
      return {};
    return parse_v1(data, size);
  }
  const size_t n = size < sizeof kV2Signature ? size : sizeof kV2Signature;
  if (std::memcmp(data, kV2Signature, n) != 0)
    return fail(ProxyVersion::v1, "no PROXY header (the connection starts with other bytes)");
  if (size < sizeof kV2Signature) {
    ProxyHeaderResult r;
    r.version = ProxyVersion::v2;
    return r;
  }
  return parse_v2(reinterpret_cast<const unsigned char*>(data), size);
}

} // namespace hamba::net
