#include "labvisor_umockdev_tty.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>

struct labvisor_umockdev_tty {
    UMockdevIoctlBase *base;
    pthread_mutex_t mutex;
    int modem_bits;
    int exclusive;
    unsigned long answered;
    unsigned long passed;
};

static void labvisor_umockdev_tty_free(gpointer data, GClosure *closure) {
    (void)closure;
    struct labvisor_umockdev_tty *tty = data;
    pthread_mutex_destroy(&tty->mutex);
    free(tty);
}

/* Reads or writes the int an ioctl's argument points to. */
static int *labvisor_umockdev_tty_int_argument(UMockdevIoctlClient *client, UMockdevIoctlData **resolved) {
    UMockdevIoctlData *argument = umockdev_ioctl_client_get_arg(client);
    GError *error = NULL;
    *resolved = umockdev_ioctl_data_resolve(argument, 0, sizeof(int), &error);
    if (*resolved == NULL) {
        g_clear_error(&error);
        return NULL;
    }
    return (int *)(*resolved)->data;
}

static gboolean labvisor_umockdev_tty_handle(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data) {
    (void)base;
    struct labvisor_umockdev_tty *tty = data;
    gulong request = umockdev_ioctl_client_get_request(client);
    switch (request) {
    case TIOCEXCL:
    case TIOCNXCL:
        pthread_mutex_lock(&tty->mutex);
        tty->exclusive = request == TIOCEXCL;
        tty->answered++;
        pthread_mutex_unlock(&tty->mutex);
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    case TIOCMGET:
    case TIOCMBIS:
    case TIOCMBIC:
    case TIOCMSET: {
        UMockdevIoctlData *resolved = NULL;
        int *value = labvisor_umockdev_tty_int_argument(client, &resolved);
        if (value == NULL) {
            umockdev_ioctl_client_complete(client, -1, EFAULT);
            return TRUE;
        }
        pthread_mutex_lock(&tty->mutex);
        if (request == TIOCMGET) *value = tty->modem_bits;
        else if (request == TIOCMBIS) tty->modem_bits |= *value;
        else if (request == TIOCMBIC) tty->modem_bits &= ~*value;
        else tty->modem_bits = *value;
        tty->answered++;
        pthread_mutex_unlock(&tty->mutex);
        umockdev_ioctl_data_unref(resolved);
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    }
    default: {
        pthread_mutex_lock(&tty->mutex);
        tty->passed++;
        pthread_mutex_unlock(&tty->mutex);
        int code = 0;
        GError *error = NULL;
        int result = umockdev_ioctl_client_execute(client, &code, &error);
        if (error != NULL) {
            g_clear_error(&error);
            if (code == 0) code = EIO;
            result = -1;
        }
        umockdev_ioctl_client_complete(client, result, code);
        return TRUE;
    }
    }
}

labvisor_umockdev_tty *labvisor_umockdev_tty_attach(UMockdevTestbed *testbed, const char *devnode, int modem_bits) {
    struct labvisor_umockdev_tty *tty = calloc(1, sizeof *tty);
    if (tty == NULL) return NULL;
    pthread_mutex_init(&tty->mutex, NULL);
    tty->modem_bits = modem_bits;
    tty->base = umockdev_ioctl_base_new();
    /* The state is freed with the signal handler, i.e. when the handler object is finalized. */
    g_signal_connect_data(tty->base, "handle-ioctl", G_CALLBACK(labvisor_umockdev_tty_handle), tty,
                          labvisor_umockdev_tty_free, 0);
    GError *error = NULL;
    if (!umockdev_testbed_attach_ioctl(testbed, devnode, tty->base, &error)) {
        g_clear_error(&error);
        g_object_unref(tty->base);
        return NULL;
    }
    return tty;
}

void labvisor_umockdev_tty_release(labvisor_umockdev_tty *tty) { g_object_unref(tty->base); }

int labvisor_umockdev_tty_modem_bits(labvisor_umockdev_tty *tty) {
    pthread_mutex_lock(&tty->mutex);
    int bits = tty->modem_bits;
    pthread_mutex_unlock(&tty->mutex);
    return bits;
}

int labvisor_umockdev_tty_exclusive(labvisor_umockdev_tty *tty) {
    pthread_mutex_lock(&tty->mutex);
    int exclusive = tty->exclusive;
    pthread_mutex_unlock(&tty->mutex);
    return exclusive;
}

unsigned long labvisor_umockdev_tty_answered_count(labvisor_umockdev_tty *tty) {
    pthread_mutex_lock(&tty->mutex);
    unsigned long count = tty->answered;
    pthread_mutex_unlock(&tty->mutex);
    return count;
}

unsigned long labvisor_umockdev_tty_passed_count(labvisor_umockdev_tty *tty) {
    pthread_mutex_lock(&tty->mutex);
    unsigned long count = tty->passed;
    pthread_mutex_unlock(&tty->mutex);
    return count;
}
