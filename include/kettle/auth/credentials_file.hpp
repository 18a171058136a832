// JSON credentials files (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
// application_default_credentials.json): read once, then turned into
// credentials by their "type".
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::auth {

// Real credentials files are a few KB; anything larger is not one.
inline constexpr std::size_t kCredentialsFileLimit = 1 << 20;

// The text of the file at `path`. Errors name `origin` (the path, perhaps
// with where it was named) and the reason: missing, a directory, unreadable,
// larger than kCredentialsFileLimit.
SetupResult<std::string> read_credentials_file(const std::string& path, const std::string& origin);

// Credentials from the text of a credentials file, by its "type":
// "service_account" (JWT-bearer exchange at its token_uri) or
// "authorized_user" (refresh-token grant). Errors name `origin`, say what
// to do and never contain a secret: not JSON, no type, another type.
SetupResult<std::shared_ptr<Credentials>> make_file_credentials(net::HttpClient& client,
                                                                std::string_view json,
                                                                const std::string& origin,
                                                                Config config = {});

}  // namespace kettle::auth
