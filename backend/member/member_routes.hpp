#pragma once
#include "core/router.hpp"

namespace om::member {
class MemberService;
// Registers /member/* routes. The service must outlive the router.
void add_routes(Router& router, MemberService& service);
}  // namespace om::member
