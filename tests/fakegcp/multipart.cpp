#include "multipart.hpp"

#include <cctype>

namespace fakegcp {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Skips the rest of a boundary line (transport padding, then the line end).
bool skip_line_end(std::string_view body, std::size_t& pos) {
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
  if (pos < body.size() && body[pos] == '\r') ++pos;
  if (pos >= body.size() || body[pos] != '\n') return false;
  ++pos;
  return true;
}

void parse_headers(std::string_view block, MultipartPart& part) {
  while (!block.empty()) {
    auto nl = block.find('\n');
    std::string_view line = trim(block.substr(0, nl));
    block = nl == std::string_view::npos ? std::string_view{} : block.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    part.headers.emplace_back(lower(trim(line.substr(0, colon))),
                              std::string(trim(line.substr(colon + 1))));
  }
}

}  // namespace

std::string_view MultipartPart::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return {};
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  std::string low = lower(content_type);
  if (!low.starts_with("multipart/")) return std::nullopt;
  auto at = low.find("boundary=");
  if (at == std::string::npos) return std::nullopt;
  std::string_view value = content_type.substr(at + 9);
  if (!value.empty() && value.front() == '"') {
    auto close = value.find('"', 1);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(value.substr(1, close - 1));
  }
  value = trim(value.substr(0, value.find(';')));
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  const std::string inner = "\n" + delimiter;  // a delimiter always starts a line
  std::size_t pos = 0;
  if (!body.starts_with(delimiter)) {
    pos = body.find(inner);  // skip a preamble
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  pos += delimiter.size();
  std::vector<MultipartPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (!skip_line_end(body, pos)) return std::nullopt;
    std::size_t next = body.find(inner, pos);
    if (next == std::string_view::npos) return std::nullopt;
    std::string_view content = body.substr(pos, next - pos);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);

    MultipartPart part;
    std::size_t split = content.find("\r\n\r\n");
    std::size_t gap = 4;
    if (std::size_t lf = content.find("\n\n"); lf != std::string_view::npos && lf < split) {
      split = lf;
      gap = 2;
    }
    if (content.starts_with("\r\n") || content.starts_with("\n")) {
      split = 0;  // no headers at all
      gap = content.starts_with("\r\n") ? 2 : 1;
    }
    if (split == std::string_view::npos) return std::nullopt;
    parse_headers(content.substr(0, split), part);
    part.body = std::string(content.substr(split + gap));
    parts.push_back(std::move(part));
    pos = next + inner.size();
  }
}

}  // namespace fakegcp
