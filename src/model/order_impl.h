/* Production orders, inside the library. */
#ifndef IDM_MODEL_ORDER_IMPL_H
#define IDM_MODEL_ORDER_IMPL_H

#include <idm/order.h>

/* The context an order handle was opened in. */
idm_ctx_t *idm_order_handle_ctx(const idm_order_t *order);

#endif /* IDM_MODEL_ORDER_IMPL_H */
