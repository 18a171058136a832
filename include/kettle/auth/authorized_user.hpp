// A user's credentials as `gcloud auth application-default login` writes them
// ("type": "authorized_user"): a refresh token traded at the token endpoint
// for access tokens (OAuth 2.0 refresh_token grant, RFC 6749 §6).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::auth {

struct AuthorizedUser {
  std::string client_id;
  std::string client_secret;  // never log it
  std::string refresh_token;  // never log it
  std::string token_uri;      // kDefaultTokenUri when the file has none
  std::string origin;         // where the file came from, for messages
};

// Reads the JSON of an authorized_user file. Errors name `origin` and the
// field at fault, never a secret: not JSON, type other than
// "authorized_user", missing client_id, client_secret or refresh_token, a
// token_uri that is not an http(s) URL.
SetupResult<AuthorizedUser> parse_authorized_user(std::string_view json, const std::string& origin);

// The form body of the refresh_token grant for `user`, percent-encoded.
// It holds secrets: never log it.
std::string refresh_grant_form(const AuthorizedUser& user);

// Cached credentials fetching tokens from user.token_uri through `client`,
// which must outlive them.
std::shared_ptr<Credentials> make_authorized_user_credentials(net::HttpClient& client,
                                                              AuthorizedUser user,
                                                              Config config = {});

}  // namespace kettle::auth
