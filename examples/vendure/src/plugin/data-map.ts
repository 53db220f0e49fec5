import { Address, AuthenticatedSession, Customer, ExternalAuthenticationMethod, NativeAuthenticationMethod, Order, Payment, User } from '@vendure/core';
import { defineCategory, defineDataSubject, definePersonalData, defineRedact } from 'privacy-engine';

/** How long orders and payments are kept whatever the customer asks: the tax basis of the shop. */
export const ORDER_RETENTION_YEARS = 10;
const TAX_BASIS = `Tax and commercial law: invoices and their orders are kept for ${ORDER_RETENTION_YEARS} years`;
const keptUntil = (from: Date | string | null | undefined): Date => {
  const date = from ? new Date(from) : new Date();
  date.setUTCFullYear(date.getUTCFullYear() + ORDER_RETENTION_YEARS);
  return date;
};

let declared = false;

/**
 * Vendure's data map, declared with privacy-engine's define* functions: Vendure's entity classes live in
 * @vendure/core, so they cannot carry decorators. Declared once per process (the registry is process-wide).
 */
export function declareVendureDataMap(): void {
  if (declared) return;
  declared = true;

  defineCategory({
    name: 'profile',
    description: 'Your customer account: name, e-mail address, phone number',
    purpose: 'Running your customer account and answering your requests',
    legalBasis: 'Contract (Art. 6(1)(b))',
    recipients: ['Customer service'],
    retention: 'As long as the account exists',
    source: 'You, when you registered or ordered',
  });
  defineCategory({
    name: 'account',
    description: 'Your login: the e-mail address you sign in with, whether it is verified, your last sign-in and your sessions',
    purpose: 'Signing you in and keeping you signed in',
    legalBasis: 'Contract (Art. 6(1)(b))',
    recipients: ['Nobody outside the shop'],
    retention: 'As long as the account exists; sessions until they expire',
    source: 'You, when you registered and signed in',
  });
  defineCategory({
    name: 'addresses',
    description: 'Shipping and billing addresses saved in your account',
    purpose: 'Delivering orders',
    legalBasis: 'Contract (Art. 6(1)(b))',
    recipients: ['Customer service', 'Carriers'],
    retention: 'Until you remove them or your account is erased',
    source: 'You',
  });
  defineCategory({
    name: 'orders',
    description: 'Your orders with the addresses they were shipped and billed to',
    purpose: 'Fulfilling and invoicing orders',
    legalBasis: 'Contract (Art. 6(1)(b)); legal obligation (Art. 6(1)(c)) for bookkeeping',
    recipients: ['Customer service', 'Accounting', 'Carriers', 'Tax authorities'],
    retention: `${ORDER_RETENTION_YEARS} years (tax law)`,
    source: 'You, when you ordered',
  });
  defineCategory({
    name: 'payments',
    description: 'Payments made for your orders',
    purpose: 'Taking and reconciling payments',
    legalBasis: 'Legal obligation (Art. 6(1)(c))',
    recipients: ['Accounting', 'Payment providers', 'Tax authorities'],
    retention: `${ORDER_RETENTION_YEARS} years (tax law)`,
    source: 'Our payment provider',
  });
  defineCategory({
    name: 'history',
    description: 'What happened to your account and orders: registration, address changes, notes by our staff',
    purpose: 'Customer service',
    legalBasis: 'Legitimate interests (Art. 6(1)(f))',
    recipients: ['Customer service'],
    retention: 'As long as the account exists; order history as long as the order',
    source: 'Our shop system and our staff',
  });

  // The customer is the data subject. Vendure hides a deleted customer with its own plain `deletedAt` column (not a
  // TypeORM @DeleteDateColumn): delete sets it, as Vendure's own deleteCustomer does, and restore clears it.
  defineDataSubject(Customer, {
    category: 'profile',
    onErase: 'delete',
    softDelete: 'deletedAt',
    displayName: (customer: Customer) => `${customer.firstName} ${customer.lastName}`,
  });
  defineRedact(Customer, 'title', 'null');
  defineRedact(Customer, 'firstName', 'name');
  defineRedact(Customer, 'lastName', 'name');
  defineRedact(Customer, 'emailAddress', 'email');
  defineRedact(Customer, 'phoneNumber', 'phone');

  // The login account. Customer.user is declared on the customer only (User has no inverse side), so the links
  // walk it from the subject's side: 'Customer.user' reaches the user, 'user.Customer.user' the rows pointing at it.
  definePersonalData(User, { category: 'account', link: 'Customer.user', onErase: 'anonymize' });
  defineRedact(User, 'identifier', 'email');
  defineRedact(User, 'lastLogin', 'null');
  // Authentication methods and sessions share a table each (single-table inheritance): mapping a child class maps
  // the rows of its type only. passwordHash (select: false) and the verification / reset tokens are credentials:
  // never exported, and reset by erasure, so an erased customer cannot sign in with the old password.
  definePersonalData(NativeAuthenticationMethod, { category: 'account', link: 'user.Customer.user', onErase: 'anonymize' });
  defineRedact(NativeAuthenticationMethod, 'identifier', 'email');
  defineRedact(NativeAuthenticationMethod, 'pendingIdentifier', 'null');
  definePersonalData(ExternalAuthenticationMethod, { category: 'account', link: 'user.Customer.user', onErase: 'anonymize' });
  defineRedact(ExternalAuthenticationMethod, 'externalIdentifier', 'hmac');
  // A session's token is a credential too: erasure replaces it, which signs the customer out.
  definePersonalData(AuthenticatedSession, { category: 'account', link: 'user.Customer.user', onErase: 'delete' });

  // Saved addresses: nothing else points at them (orders keep copies), so delete removes them outright.
  definePersonalData(Address, { category: 'addresses', link: 'customer', onErase: 'delete' });
  for (const field of ['company', 'streetLine1', 'streetLine2', 'city', 'province', 'postalCode'] as const) defineRedact(Address, field, 'text');
  defineRedact(Address, 'fullName', 'name');
  defineRedact(Address, 'phoneNumber', 'phone');

  // Orders and payments are bookkeeping records, kept under the tax basis, but only the fields it covers: an
  // invoice needs the billing address and the amounts, not where the parcel went or the name on the card.
  const addressKeys = ['fullName', 'company', 'streetLine1', 'streetLine2', 'city', 'province', 'postalCode', 'phoneNumber'];
  definePersonalData(Order, {
    category: 'orders',
    link: 'customer',
    onErase: 'retain',
    retention: { basis: TAX_BASIS, until: (order: Order) => keptUntil(order.orderPlacedAt ?? order.createdAt), fields: ['billingAddress'] },
  });
  defineRedact(Order, 'shippingAddress', 'json', { keys: addressKeys });
  defineRedact(Order, 'billingAddress', 'json', { keys: addressKeys });
  definePersonalData(Payment, {
    category: 'payments',
    link: 'order.customer',
    onErase: 'retain',
    retention: { basis: TAX_BASIS, until: (payment: Payment) => keptUntil(payment.createdAt), fields: ['amount', 'method', 'transactionId'] },
  });
  defineRedact(Payment, 'metadata', 'json', { keys: ['cardHolder'] });

  // History entries share one table (single-table inheritance): the customer's own, and those of their orders.
  // @vendure/core does not export these two classes; privacy-engine takes TypeORM's entity names instead.
  const historyKeys = ['note', 'address', 'emailAddress', 'oldEmailAddress', 'newEmailAddress'];
  definePersonalData('CustomerHistoryEntry', { category: 'history', link: 'customer', onErase: 'anonymize' });
  defineRedact('CustomerHistoryEntry', 'data', 'json', { keys: historyKeys });
  definePersonalData('OrderHistoryEntry', { category: 'history', link: 'order.customer', onErase: 'anonymize' });
  defineRedact('OrderHistoryEntry', 'data', 'json', { keys: historyKeys });
}
