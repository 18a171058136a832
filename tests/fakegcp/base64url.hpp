// Base64url (RFC 4648 §5) without padding, as JWTs and our page tokens use it;
// and standard base64 (§4), as proto3 JSON carries bytes (Pub/Sub data).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fakegcp {

std::string base64url_encode(std::string_view bytes);
// Accepts input with or without '=' padding; nullopt on any other character
// or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

// Standard alphabet with '=' padding, as Google's JSON APIs write bytes.
std::string base64_encode(std::string_view bytes);
// Either alphabet, padding optional (proto3 JSON parsers accept both);
// nullopt on any other character or an impossible length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace fakegcp
