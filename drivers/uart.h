/*
 * drivers/uart.h — 16550 UART (COM1 at 0x3f8, 115200 8N1), polled.
 */
#ifndef SLUICE_DRIVERS_UART_H
#define SLUICE_DRIVERS_UART_H

#include <stdbool.h>
#include <stddef.h>

void uart_init(void);
void uart_putc(char c);			  /* raw byte */
void uart_write(const char *s, size_t n); /* "\n" becomes "\r\n" */
void uart_write_raw(const char *s, size_t n); /* "\n" not after "\r" becomes "\r\n" */
void uart_puts_raw(const char *s);	  /* "\n" becomes "\r\n" */
int uart_getc(void);			  /* a received byte, or -1 */
/* Receive-data interrupt on (IER.ERBFI) or off. */
void uart_rx_irq(bool on);
void uart_irq_ack(void);

#endif
