// Base64url (RFC 4648 §5) without padding, as JWTs and our page tokens use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fakegcp {

std::string base64url_encode(std::string_view bytes);
// Accepts input with or without '=' padding; nullopt on any other character
// or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace fakegcp
