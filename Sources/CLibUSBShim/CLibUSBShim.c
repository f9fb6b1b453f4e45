#include "CLibUSBShim.h"
#include <libusb-1.0/libusb.h>

int clibusb_disable_logging(struct libusb_context *ctx)
{
    return libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, LIBUSB_LOG_LEVEL_NONE);
}

int clibusb_enable_debug_logging(struct libusb_context *ctx)
{
    return libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, LIBUSB_LOG_LEVEL_DEBUG);
}
