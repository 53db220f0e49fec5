/**
 * Fills the running example server through Vendure's own Shop and Admin GraphQL APIs, as shoppers and staff would:
 * a product, five customers (registered in the shop, created by staff, a guest, and one soft-deleted by staff),
 * their addresses, orders, payments and history entries (notes). Writes what the test needs to know about them
 * (ids, e-mail addresses, passwords, order codes) to $VENDURE_DATA_DIR/population.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ok, VendureClient } from './graphql-client';

export interface PopulatedCustomer {
  key: string;
  id: string;
  firstName: string;
  lastName: string;
  emailAddress: string;
  password: string | null;
  phoneNumber: string;
  streets: string[];
  orderCodes: string[];
  cardHolder: string;
  deleted: boolean;
}

type AddressInput = { fullName: string; streetLine1: string; city: string; postalCode: string; countryCode: string; phoneNumber: string; company?: string };

const ADDRESS_FIELDS = 'id fullName streetLine1';
const ORDER_FIELDS = '__typename ... on Order { id code state } ... on ErrorResult { errorCode message }';

async function createProduct(admin: VendureClient): Promise<string> {
  const { createProduct } = await admin.query(
    `mutation ($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
    { input: { translations: [{ languageCode: 'en', name: 'Analytical Engine Notebook', slug: 'analytical-engine-notebook', description: 'Squared paper.' }] } },
  );
  const { createProductVariants } = await admin.query(
    `mutation ($input: [CreateProductVariantInput!]!) { createProductVariants(input: $input) { id } }`,
    { input: [{ productId: createProduct.id, sku: 'AEN-1', price: 1299, stockOnHand: 1000, translations: [{ languageCode: 'en', name: 'Analytical Engine Notebook' }] }] },
  );
  return createProductVariants[0].id as string;
}

/** Checks out the active order of a shop session: address, shipping, payment (the dummy handler settles at once). */
async function checkout(shop: VendureClient, variantId: string, address: AddressInput, cardHolder: string, guest?: { emailAddress: string; firstName: string; lastName: string }): Promise<string> {
  ok((await shop.query(`mutation ($id: ID!) { addItemToOrder(productVariantId: $id, quantity: 2) { ${ORDER_FIELDS} } }`, { id: variantId })).addItemToOrder, 'addItemToOrder');
  if (guest) ok((await shop.query(`mutation ($input: CreateCustomerInput!) { setCustomerForOrder(input: $input) { ${ORDER_FIELDS} } }`, { input: guest })).setCustomerForOrder, 'setCustomerForOrder');
  ok((await shop.query(`mutation ($input: CreateAddressInput!) { setOrderShippingAddress(input: $input) { ${ORDER_FIELDS} } }`, { input: address })).setOrderShippingAddress, 'setOrderShippingAddress');
  ok((await shop.query(`mutation ($input: CreateAddressInput!) { setOrderBillingAddress(input: $input) { ${ORDER_FIELDS} } }`, { input: address })).setOrderBillingAddress, 'setOrderBillingAddress');
  const { eligibleShippingMethods } = await shop.query(`{ eligibleShippingMethods { id } }`);
  ok((await shop.query(`mutation ($ids: [ID!]!) { setOrderShippingMethod(shippingMethodId: $ids) { ${ORDER_FIELDS} } }`, { ids: [eligibleShippingMethods[0].id] })).setOrderShippingMethod, 'setOrderShippingMethod');
  ok((await shop.query(`mutation { transitionOrderToState(state: "ArrangingPayment") { ${ORDER_FIELDS} } }`)).transitionOrderToState, 'transitionOrderToState');
  const { eligiblePaymentMethods } = await shop.query(`{ eligiblePaymentMethods { code isEligible } }`);
  const { addPaymentToOrder } = await shop.query(
    `mutation ($input: PaymentInput!) { addPaymentToOrder(input: $input) { ${ORDER_FIELDS} } }`,
    { input: { method: eligiblePaymentMethods[0].code, metadata: { cardHolder, last4: '4242' } } },
  );
  ok(addPaymentToOrder, 'addPaymentToOrder');
  if (addPaymentToOrder.state !== 'PaymentSettled') throw new Error(`order ${addPaymentToOrder.code} is ${addPaymentToOrder.state}, not PaymentSettled`);
  return addPaymentToOrder.code as string;
}

const addressOf = (c: { firstName: string; lastName: string; phoneNumber: string }, streetLine1: string, city: string, postalCode: string, countryCode = 'GB'): AddressInput => ({
  fullName: `${c.firstName} ${c.lastName}`,
  streetLine1,
  city,
  postalCode,
  countryCode,
  phoneNumber: c.phoneNumber,
});

async function registerInShop(variantId: string, c: Omit<PopulatedCustomer, 'id' | 'orderCodes' | 'deleted'>, orders: number): Promise<{ shop: VendureClient; orderCodes: string[] }> {
  const shop = new VendureClient('shop-api');
  const { registerCustomerAccount } = await shop.query(
    `mutation ($input: RegisterCustomerInput!) { registerCustomerAccount(input: $input) { __typename ... on ErrorResult { errorCode message } } }`,
    { input: { emailAddress: c.emailAddress, firstName: c.firstName, lastName: c.lastName, phoneNumber: c.phoneNumber, password: c.password } },
  );
  ok(registerCustomerAccount, 'registerCustomerAccount');
  const login = await shop.login(c.emailAddress, c.password!);
  if (login.typename !== 'CurrentUser') throw new Error(`login of a new customer: ${login.typename}`);
  const addresses = c.streets.map((street, i) => ({ ...addressOf(c, street, i === 0 ? 'London' : 'Paris', `N${i}1 ${i}AA`, i === 0 ? 'GB' : 'FR'), defaultShippingAddress: i === 0 }));
  for (const input of addresses) await shop.query(`mutation ($input: CreateAddressInput!) { createCustomerAddress(input: $input) { ${ADDRESS_FIELDS} } }`, { input });
  const orderCodes: string[] = [];
  for (let i = 0; i < orders; i++) orderCodes.push(await checkout(shop, variantId, addresses[i % addresses.length], c.cardHolder));
  return { shop, orderCodes };
}

async function customerIdOf(admin: VendureClient, emailAddress: string): Promise<string> {
  const { customers } = await admin.query(
    `query ($email: String!) { customers(options: { filter: { emailAddress: { eq: $email } } }) { items { id } } }`,
    { email: emailAddress },
  );
  if (customers.items.length !== 1) throw new Error(`expected one customer with the test's e-mail address, found ${customers.items.length}`);
  return customers.items[0].id as string;
}

async function main(): Promise<void> {
  const admin = new VendureClient('admin-api');
  const adminLogin = await admin.login('superadmin', process.env.SUPERADMIN_PASSWORD ?? 'superadmin');
  if (adminLogin.typename !== 'CurrentUser') throw new Error(`superadmin login: ${adminLogin.typename}`);
  const variantId = await createProduct(admin);
  const people: PopulatedCustomer[] = [];
  const person = (key: string, firstName: string, lastName: string, n: number, streets: string[], password: string | null) => ({
    key,
    firstName,
    lastName,
    emailAddress: `${firstName}.${lastName}@example.com`.toLowerCase(),
    password,
    phoneNumber: `+44 20 7946 0${String(100 + n)}`,
    streets,
    cardHolder: `${firstName.toUpperCase()} ${lastName.toUpperCase()}`,
  });

  // 1 and 2: registered in the shop, with saved addresses and paid orders. Ada is the subject of the test.
  for (const [key, first, last, n, streets, orders] of [
    ['ada', 'Ada', 'Lovelace', 1, ['12 St James Square', '5 Rue des Analystes'], 2],
    ['grace', 'Grace', 'Hopper', 2, ['1 Cobol Court'], 1],
  ] as const) {
    const c = person(key, first, last, n, [...streets], `${key}-password-123`);
    const { orderCodes } = await registerInShop(variantId, c, orders);
    people.push({ ...c, id: await customerIdOf(admin, c.emailAddress), orderCodes, deleted: false });
  }

  // 3: created by staff in the Admin API, with a password, an address and a note.
  {
    const c = person('alan', 'Alan', 'Turing', 3, ['78 High Street'], 'alan-password-123');
    const { createCustomer } = await admin.query(
      `mutation ($input: CreateCustomerInput!, $password: String) { createCustomer(input: $input, password: $password) { __typename ... on Customer { id } ... on ErrorResult { errorCode message } } }`,
      { input: { firstName: c.firstName, lastName: c.lastName, emailAddress: c.emailAddress, phoneNumber: c.phoneNumber }, password: c.password },
    );
    ok(createCustomer, 'createCustomer');
    await admin.query(`mutation ($id: ID!, $input: CreateAddressInput!) { createCustomerAddress(customerId: $id, input: $input) { ${ADDRESS_FIELDS} } }`, {
      id: createCustomer.id,
      input: addressOf(c, c.streets[0], 'Wilmslow', 'SK9 1AA'),
    });
    people.push({ ...c, id: createCustomer.id, orderCodes: [], deleted: false });
  }

  // 4: a guest who checked out without an account (a customer without a user).
  {
    const c = person('katherine', 'Katherine', 'Johnson', 4, ['9 Langley Road'], null);
    const shop = new VendureClient('shop-api');
    const code = await checkout(shop, variantId, addressOf(c, c.streets[0], 'Hampton', 'HA1 1AA'), c.cardHolder, { emailAddress: c.emailAddress, firstName: c.firstName, lastName: c.lastName });
    people.push({ ...c, id: await customerIdOf(admin, c.emailAddress), orderCodes: [code], deleted: false });
  }

  // 5: registered and ordered, then deleted by staff: Vendure soft-deletes the customer (deletedAt).
  {
    const c = person('edsger', 'Edsger', 'Dijkstra', 5, ['3 Goto Lane'], 'edsger-password-123');
    const { orderCodes } = await registerInShop(variantId, c, 1);
    const id = await customerIdOf(admin, c.emailAddress);
    const { deleteCustomer } = await admin.query(`mutation ($id: ID!) { deleteCustomer(id: $id) { result } }`, { id });
    if (deleteCustomer.result !== 'DELETED') throw new Error(`deleteCustomer: ${deleteCustomer.result}`);
    people.push({ ...c, id, orderCodes, deleted: true });
  }

  // Staff notes: history entries on the customer and on their order (Vendure records registration, address and
  // order state changes by itself).
  for (const c of people.filter((p) => !p.deleted)) {
    await admin.query(`mutation ($input: AddNoteToCustomerInput!) { addNoteToCustomer(input: $input) { id } }`, {
      input: { id: c.id, note: `Called ${c.firstName} ${c.lastName} about a delivery to ${c.streets[0]}`, isPublic: false },
    });
    for (const code of c.orderCodes) {
      const { orders } = await admin.query(`query ($code: String!) { orders(options: { filter: { code: { eq: $code } } }) { items { id } } }`, { code });
      await admin.query(`mutation ($input: AddNoteToOrderInput!) { addNoteToOrder(input: $input) { id } }`, {
        input: { id: orders.items[0].id, note: `Gift for ${c.firstName}: leave with the neighbour at ${c.streets[0]}`, isPublic: false },
      });
    }
  }

  // A second channel (another shop on the same Vendure): the privacy plugin's tenant. None of the customers above
  // belongs to it.
  const { zones } = await admin.query(`{ zones { items { id name } } }`);
  const zone = zones.items.find((z: { name: string }) => z.name === 'Europe') ?? zones.items[0];
  const { createChannel } = await admin.query(
    `mutation ($input: CreateChannelInput!) { createChannel(input: $input) { __typename ... on Channel { id code token } ... on ErrorResult { errorCode message } } }`,
    {
      input: {
        code: 'outlet',
        token: 'outlet-channel-token',
        defaultLanguageCode: 'en',
        pricesIncludeTax: true,
        defaultCurrencyCode: 'GBP',
        defaultShippingZoneId: zone.id,
        defaultTaxZoneId: zone.id,
      },
    },
  );
  ok(createChannel, 'createChannel');

  const directory = process.env.VENDURE_DATA_DIR ?? path.join(__dirname, '..', '..', '.data');
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, 'population.json'), JSON.stringify({ variantId, otherChannelToken: createChannel.token, customers: people }, null, 2));
  console.log(`populate: ${people.length} customers, ${people.reduce((n, p) => n + p.orderCodes.length, 0)} orders (${people.filter((p) => p.deleted).length} customer soft-deleted)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
