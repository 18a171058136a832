// Service-account key files ("type": "service_account"): a signed JWT
// traded at the key's token_uri for an access token.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/auth/jwt.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::auth {

struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_id;
  std::string token_uri;  // kDefaultTokenUri when the file has none
  std::string project_id;
  RsaSigner signer;    // the parsed private_key
  std::string origin;  // where the key came from (its file), for messages and description()
};

// Reads the JSON of a key file. Errors name `origin` and the field at fault,
// never a key's contents: not JSON, type other than "service_account",
// missing client_email or private_key, a private_key that is not an RSA PEM,
// a token_uri that is not an http(s) URL.
SetupResult<ServiceAccountKey> parse_service_account_key(std::string_view json,
                                                         const std::string& origin);
// parse_service_account_key of a file's contents; unreadable files are errors too.
SetupResult<ServiceAccountKey> load_service_account_key(const std::string& path);

// The signed assertion for `key` at config's current time; nullopt when signing fails.
std::optional<std::string> make_service_account_assertion(const ServiceAccountKey& key,
                                                          const Config& config);

// Cached credentials fetching tokens from key.token_uri through `client`,
// which must outlive them.
std::shared_ptr<Credentials> make_service_account_credentials(net::HttpClient& client,
                                                              ServiceAccountKey key,
                                                              Config config = {});

}  // namespace kettle::auth
