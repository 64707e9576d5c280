#pragma once
#include "core/router.hpp"

namespace om::product {
class ProductService;
// Registers /products routes. The service must outlive the router.
void add_routes(Router& router, ProductService& service);
}  // namespace om::product
