// Base64 encoding (RFC 4648): the standard alphabet with padding (Pub/Sub
// message data) or the URL-safe one without (JWT segments).
#pragma once

#include <string>
#include <string_view>

namespace kettle::net {

enum class Base64 { standard, url_unpadded };

std::string base64_encode(std::string_view bytes, Base64 form);

}  // namespace kettle::net
