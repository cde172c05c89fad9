// Encoding and decoding of control socket requests and replies (format in protocol.h).
#include "control/protocol.h"

#include <cstdlib>
#include <stdexcept>

namespace hamba::control {
namespace {

// Splits "first line\nrest" (a missing newline means no rest).
std::pair<std::string, std::string> split_first_line(const std::string& text) {
  auto newline = text.find('\n');
  if (newline == std::string::npos)
    return {text, {}};
  return {text.substr(0, newline), text.substr(newline + 1)};
}

// Splits "word rest of line" at the first space.
std::pair<std::string, std::string> split_word(const std::string& line) {
  auto space = line.find(' ');
  if (space == std::string::npos)
    return {line, {}};
  return {line.substr(0, space), line.substr(space + 1)};
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
  return text;
}

} // namespace

std::string encode_request(const Request& request) {
  std::string line = request.command;
  if (!request.argument.empty())
    line += " " + one_line(request.argument);
  return line + "\n" + request.payload;
}

Request decode_request(const std::string& text) {
  auto [line, payload] = split_first_line(text);
  // Trailing blanks and CRs (a terminal's CRLF, a space typed after the word) are not part of the
  // argument, and would not survive encode_request either.
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  auto [command, argument] = split_word(line);
  if (command.empty())
    throw std::invalid_argument("empty request (expected a command such as showconfig)");
  return {command, argument, payload};
}

std::string encode_reply(const Reply& reply) {
  std::string line = reply.ok ? "ok" : "error";
  if (!reply.message.empty())
    line += " " + one_line(reply.message);
  return line + "\n" + reply.body;
}

Reply decode_reply(const std::string& text) {
  auto [line, body] = split_first_line(text);
  auto [status, message] = split_word(line);
  if (status == "ok")
    return Reply::success(message, body);
  if (status == "error")
    return Reply::failure(message.empty() ? "refused (no reason given)" : message);
  throw std::invalid_argument("not a hamba control reply: '" + line.substr(0, 60) + "'");
}

std::string socket_path(const std::string& flag, const std::map<std::string, std::string>& env) {
  if (!flag.empty())
    return flag;
  if (auto var = env.find("HAMBA_CONTROL"); var != env.end() && !var->second.empty())
    return var->second;
  auto home = env.find("HOME");
  std::string dir = home != env.end() && !home->second.empty() ? home->second : "/run";
  if (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return (dir == "/" ? "" : dir) + "/.hamba.sock";
}

std::string socket_path(const std::string& flag) {
  std::map<std::string, std::string> env;
  for (const char* name : {"HAMBA_CONTROL", "HOME"})
    if (const char* value = std::getenv(name))
      env[name] = value;
  return socket_path(flag, env);
}

} // namespace hamba::control
