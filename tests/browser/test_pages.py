"""The customer page and the operator page in a real browser (headless
Chromium) against the running stack, used as a person would: sign in with a
token, type, press buttons, and watch what the page shows change without a
reload. Screenshots of both pages at desktop and phone width are written to
build/screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from confluent_kafka import Producer
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from support.browser import DESKTOP, PHONE, chromium, screenshot, wait_for
from support.http import post_json
from support.progress import produce_one
from support.saga import advance, booked, inventory, new_customer, new_id, seed_stock
from support.waiting import eventually_value

from orderflow.deadletters import read
from orderflow.schemas import catalog
from orderflow.stack import DevStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Product ids that sort before every other test's ("prod_..."), so this module's products are on the first page.
PRODUCT_PREFIX = "0web"


@pytest.fixture(scope="module")
def browser(stack: DevStack) -> Iterator[WebDriver]:
    driver = chromium(stack.settings.gateway_tls_cert_file if stack.settings.gateway_tls else None)
    try:
        yield driver
    finally:
        driver.quit()


def fresh(browser: WebDriver, url: str) -> None:
    """Open ``url`` signed out: the tab's stored tokens are cleared on the index page first (a page
    that signs in with a stored token could store it again between a clear and a reload)."""
    browser.set_window_size(*DESKTOP)
    browser.get(urlsplit(url)._replace(path="/", query="", fragment="").geturl())
    browser.execute_script("sessionStorage.clear()")
    browser.get(url)


def open_signed_in(browser: WebDriver, url: str, token: str) -> None:
    """Open a page afresh, at desktop width, and sign in from the keyboard (the token, then Enter)."""
    fresh(browser, url)
    field = wait_for(browser, lambda b: b.find_element(By.ID, "token"), what="the sign-in field")
    field.send_keys(token, Keys.ENTER)
    wait_for(browser, lambda b: b.find_element(By.ID, "signed-in").is_displayed(), what="signed in")


def customer_page(stack: DevStack, browser: WebDriver) -> str:
    """A new customer, signed in on the shop page; its id."""
    customer = new_customer(stack)
    open_signed_in(browser, f"{stack.gateway_url}/shop/", stack.token("customer", subject=customer))
    wait_for(browser, lambda b: b.find_element(By.ID, "who").text == f"Signed in as {customer}", what="who")
    return customer


def product_row(browser: WebDriver, table: str, product_id: str):  # -> WebElement
    return wait_for(browser, lambda b: next(iter(b.find_elements(
        By.CSS_SELECTOR, f"#{table} tbody tr[data-product='{product_id}']")), None), what=f"{product_id} listed")


def order_products(browser: WebDriver, quantities: dict[str, int], payment_method: str = "pm_visa") -> str:
    """Type the quantities and the payment method, place the order; the order id the page shows."""
    for product_id, quantity in quantities.items():
        product_row(browser, "products", product_id)
        field = wait_for(browser, lambda b, p=product_id: (f := b.find_element(By.ID, f"qty-{p}")).is_enabled()
                         and f, what=f"{product_id} orderable")
        field.clear()
        field.send_keys(str(quantity))
    method = browser.find_element(By.ID, "payment-method")
    method.clear()
    method.send_keys(payment_method)
    browser.find_element(By.ID, "place-order").click()
    return str(wait_for(browser, lambda b: b.find_element(By.ID, "order-id").text, what="the order's id"))


def shown_status(browser: WebDriver, status: str, timeout: float = 40) -> None:
    wait_for(browser, lambda b: b.find_element(By.ID, "order").get_attribute("data-status") == status,
             timeout, what=f"the order shown as {status}")


def test_a_bad_token_is_refused_with_a_sentence_not_raw_json(stack: DevStack, browser: WebDriver) -> None:
    fresh(browser, f"{stack.gateway_url}/shop/")
    browser.find_element(By.ID, "token").send_keys("not-a-token", Keys.ENTER)
    error = wait_for(browser, lambda b: (e := b.find_element(By.ID, "error")).is_displayed() and e,
                     what="the error")
    assert error.text.startswith("You are not signed in, or your token has expired")
    assert "{" not in error.text
    assert not browser.find_element(By.ID, "signed-in").is_displayed()


def test_a_customer_orders_two_products_and_watches_the_order_confirmed_then_delivered_without_a_reload(
        stack: DevStack, browser: WebDriver) -> None:
    first, second = new_id(PRODUCT_PREFIX), new_id(PRODUCT_PREFIX)
    seed_stock(stack, first, 10, price=12.5)
    seed_stock(stack, second, 5, price=3.0)
    customer = customer_page(stack, browser)
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads
    order_id = order_products(browser, {first: 2, second: 1})

    shown_status(browser, "confirmed")
    assert browser.execute_script("return window.sameDocument") is True
    history = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#order-history li")]
    assert [h.split()[0] for h in history[:1]] == ["pending"] and "confirmed" in history[-1]
    items = browser.find_element(By.ID, "order-items").text
    assert f"2 × {first}" in items and f"1 × {second}" in items
    payment = wait_for(browser, lambda b: "captured" in (t := b.find_element(By.ID, "order-payment").text) and t,
                       what="the payment captured")
    assert "$28.00" in payment  # 2 x 12.50 + 3.00
    # the order is in the customer's own list, and the stock it took is gone from what is available
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f"#my-orders tr[data-order='{order_id}']"),
             what="the order listed")
    wait_for(browser, lambda b: product_row(b, "products", first).find_element(
        By.CSS_SELECTOR, "td[data-available]").get_attribute("data-available") == "8", what="8 left")
    # then the parcel: booked with the carrier, picked up, delivered, each shown as it happens
    parcel = booked(stack, order_id)
    wait_for(browser, lambda b: parcel["trackingNumber"] in b.find_element(By.ID, "order-shipment").text,
             what="the tracking number")
    for step in ("picked_up", "in_transit", "delivered"):
        assert advance(stack, parcel, step) == 200
    shown_status(browser, "delivered")
    assert "SimPost" in browser.find_element(By.ID, "order-shipment").text
    wait_for(browser, lambda b: "delivered" in b.find_element(
        By.CSS_SELECTOR, f"#my-orders tr[data-order='{order_id}']").text, what="the list showing it delivered")
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input')].filter(i => !i.labels.length && !i.ariaLabel).length")
    assert unlabelled == 0
    assert customer in browser.find_element(By.ID, "who").text
    screenshot(browser, "shop")
    browser.set_window_size(*PHONE)
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth") is True
    finally:
        browser.set_window_size(*DESKTOP)


def test_a_declined_payment_is_shown_as_payment_failed_with_the_reason(stack: DevStack, browser: WebDriver) -> None:
    product = new_id(PRODUCT_PREFIX)
    seed_stock(stack, product, 5, price=4.0)
    customer_page(stack, browser)
    order_products(browser, {product: 1}, payment_method="pm_insufficient_funds")
    shown_status(browser, "payment_failed")
    wait_for(browser, lambda b: "insufficient funds" in b.find_element(By.ID, "order-payment").text.lower(),
             what="the decline's reason")
    assert not browser.find_element(By.ID, "cancel-order").is_displayed()


def test_a_customer_cancels_a_confirmed_order_from_the_page(stack: DevStack, browser: WebDriver) -> None:
    product = new_id(PRODUCT_PREFIX)
    seed_stock(stack, product, 5, price=6.0)
    customer_page(stack, browser)
    order_id = order_products(browser, {product: 2})
    shown_status(browser, "confirmed")
    cancel = wait_for(browser, lambda b: (c := b.find_element(By.ID, "cancel-order")).is_displayed() and c,
                      what="the cancel button")
    cancel.click()
    shown_status(browser, "cancelled")
    assert order_id in browser.find_element(By.ID, "notice").text
    wait_for(browser, lambda b: "refunded" in b.find_element(By.ID, "order-payment").text, what="the refund")
    found = eventually_value(lambda: inventory(stack, product), until=lambda inv: inv is not None
                             and inv["available"] == 5, what="the stock back")
    assert found is not None and found["reserved"] == 0


def test_an_operator_restocks_a_product_and_the_customer_page_shows_it_available(
        stack: DevStack, browser: WebDriver) -> None:
    product = new_id(PRODUCT_PREFIX)
    assert post_json(f"{stack.gateway_url}/api/v1/products/{product}/price", {"price": 9.99}).status == 202
    eventually_value(lambda: inventory(stack, product), until=lambda inv: inv is not None, what="the product")
    customer_page(stack, browser)
    row = product_row(browser, "products", product)
    assert "Out of stock" in row.text and not browser.find_element(By.ID, f"qty-{product}").is_enabled()
    shop = browser.current_window_handle

    browser.switch_to.new_window("tab")
    open_signed_in(browser, f"{stack.gateway_url}/console/", stack.token("operator", subject="browser-operator"))
    stock = product_row(browser, "stock", product)
    assert "out of stock" in stock.text
    browser.find_element(By.ID, f"restock-{product}").send_keys("7", Keys.ENTER)
    wait_for(browser, lambda b: f"Restock of 7 × {product} sent" in b.find_element(By.ID, "notice").text,
             what="the restock sent")
    wait_for(browser, lambda b: product_row(b, "stock", product).get_attribute("class") == "level-ok",
             what="the console's row back to ok")
    wait_for(browser, lambda b: "ready" in b.find_element(By.ID, "workers").text, what="the workers' readiness")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#recent-orders .group"), what="recent orders")
    screenshot(browser, "console")
    browser.close()

    browser.switch_to.window(shop)
    wait_for(browser, lambda b: browser.find_element(By.ID, f"qty-{product}").is_enabled(), what="orderable again")
    assert product_row(browser, "products", product).find_element(
        By.CSS_SELECTOR, "td[data-available]").text == "7"


def test_an_operator_replays_a_dead_letter_from_the_console(stack: DevStack, browser: WebDriver,
                                                           kafka_producer: Producer) -> None:
    key = new_id("ord_web_dlq")
    produce_one(kafka_producer, catalog.ORDER_COMMANDS.name, key, b"\x00\x00\x00\x7f\xffbroken")
    open_signed_in(browser, f"{stack.gateway_url}/console/", stack.token("operator", subject="browser-operator"))
    row = wait_for(browser, lambda b: next((r for r in b.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
                                            if f"'{key}'" in r.text), None), what="the dead letter listed")
    position = row.get_attribute("data-position")
    assert "orders.commands" in row.text
    row.find_element(By.TAG_NAME, "button").click()
    wait_for(browser, lambda b: f"Dead letter {position} replayed to orders.commands"
             in b.find_element(By.ID, "notice").text, what="the replay done")
    # still broken, so the agents dead-letter it again: listed as a replay of the first
    wait_for(browser, lambda b: any(r.find_element(By.CLASS_NAME, "replay-of").text == position
                                    for r in b.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr[data-position]")),
             timeout=40, what="the replay's own dead letter")
    letters, _ = read(stack.settings.kafka, source_topic=catalog.ORDER_COMMANDS.name)
    assert [d.replay_of for d in letters if d.key == key.encode()] == [None, position]
