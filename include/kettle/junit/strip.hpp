// Shrinks a JUnit document before it is stored (SPEC §3.3).
#pragma once

#include <string>

namespace kettle::junit {

// Removes <system-out> and <system-err> elements below the root, except where
// the cut could change a row (a child of <failure>; a child of a <testsuites>
// root that holds testcases), cutting their exact byte ranges so the rest of
// the document is kept byte for byte. Invalid UTF-8 comes back as U+FFFD
// (SPEC D12). A malformed document (the limits of parser.hpp included) is
// returned unchanged.
//
// Takes the document by value and cuts it in place: moved in, a file of
// hundreds of megabytes is never copied (only a document with invalid UTF-8
// is, once, to repair it). Beyond the document and expat's own state, it
// keeps a few bytes per removed element.
std::string strip_output(std::string xml);

}  // namespace kettle::junit
