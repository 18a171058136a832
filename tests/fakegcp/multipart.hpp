// multipart/related bodies (RFC 2046), as Google's upload endpoints take
// metadata and media in one request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fakegcp {

struct MultipartPart {
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string_view header(std::string_view lower_name) const;
};

// The boundary parameter of a multipart Content-Type value (quotes removed).
std::optional<std::string> multipart_boundary(std::string_view content_type);

// The parts between the boundaries; nullopt when the body is not framed by
// them. Lines may end in CRLF or a bare LF.
std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary);

}  // namespace fakegcp
