"""Word lists the statement verifier uses. Each list is small, documented and deliberately closed: a word
that is in none of them and not in the product facts (or retrieved sources) is *unverified*.

- FUNCTION_WORDS: grammar (articles, pronouns, prepositions, auxiliaries, conjunctions, common adverbs of
  degree and time). They carry no fact.
- GENERIC_MARKETING: praise, mood and shopping language that no reader takes as a checkable property of the
  product ("stylish", "perfect", "wardrobe", "shop", "everyday"). What is NOT here, on purpose: product types,
  colours, materials, fabrics and finishes, body parts and fits, features a buyer could check ("breathable",
  "lightweight", "durable", "soft", "stretchable", "padded"), numbers, offers, availability, ratings and
  popularity, people, organisations, retailers and places. Those must be in the facts.
- COLOURS: colour words by family, so that "navy" in the facts backs "blue" in the copy (a specific shade
  backs its family name, never the other way round), and a colour the facts do not give is reported as a
  wrong colour.
- PRODUCT_TYPES, RETAILERS, AUDIENCE: used only to name the kind of an unverified term (a wrong product
  type, a retailer, an audience), never to allow one.
- POLAR_PAIRS: words whose opposite in the sources makes a statement a contradiction.
"""

from __future__ import annotations

FUNCTION_WORDS = frozenset(
    """
a an the this that these those there here it its it's itself they them their theirs themselves we us our ours
ourselves you your yours yourself yourselves i me my mine myself he him his himself she her hers herself one
ones who whom whose which what whatever whichever whoever when where why how
and or but nor so yet if then than as because since while whereas though although unless until till whether
of in on at by for with without within into onto upon from to toward towards about above below over under
between among through throughout during before after across along around behind beside besides beyond
near off out up down via per against despite except inside outside underneath amid
is am are was were be been being do does did doing done have has had having will would shall should can
could may might must ought let lets get gets got getting make makes made making
not no nor never yes also too very so just only even still already yet ever really quite rather much more
most less least many few lots lot plenty enough such same other another each every all any some both either
neither own several various whole back away
now today then soon again always often sometimes once twice here there anywhere everywhere somewhere
nowhere anytime forever
s t d ll m re ve don doesn didn isn aren wasn weren won wouldn shouldn couldn can't don't won't isn't aren't
it's you're you'll you've we're we'll we've they're that's there's here's what's let's i'm i'll i've
""".split()
)

GENERIC_MARKETING = frozenset(
    """
look looks looking style styles styled styling stylish stylishly fashion fashionable fashionista trend trendy
trending chic classic classy timeless modern contemporary elegant elegance elegantly sophisticated
sophistication graceful grace refined polished sleek smart sharp dapper effortless effortlessly easy easily
simple simply simplicity fancy beautiful beautifully beauty gorgeous stunning lovely pretty cute charming charm
delightful delight attractive appealing eye-catching striking bold statement standout stand standing
unique uniquely special distinctive signature iconic versatile versatility practical practicality
functional function everyday daily day days night nights casual casually formal semi-formal occasion
occasions event events outing outings party parties celebration celebrations festive festival festivals
wedding weddings office work workday weekend weekends vacation holiday holidays travel travels trip trips
brunch date dinner evening evenings morning mornings season seasons seasonal spring summer autumn fall winter
year-round all-day all-season
wardrobe closet outfit outfits ensemble ensembles collection collections range essential essentials staple
staples must-have go-to pick picks choice choices option options
piece pieces addition item items product products find finds treasure gem
perfect perfectly ideal ideally great good better best fine nice wonderful amazing awesome fantastic
fabulous excellent superb brilliant impressive incredible remarkable outstanding exceptional
premium quality high-quality top-quality luxury luxurious luxe indulgent plush rich
comfort comfortable comfortably comfy cosy cozy relaxed relaxing ease confident confidence
fit fits fitting suit suits suited match matches matching complement complements complementing pair pairs
paired pairing team teamed layer layering mix combine combined combination coordinate
design designs designed detail details detailed detailing finish finished finishing touch touches
craft crafted craftsmanship made make build built created creation construction constructed
feature features featuring featured offer offers offering provide provides providing give gives giving
keep keeps keeping bring brings bringing add adds adding elevate elevates elevated upgrade upgrades
enhance enhances enhanced complete completes completing transform transforms refresh refreshes update
discover discovers explore explores experience experiences enjoy enjoys enjoying embrace embraces
love loves loved loving adore like likes want wants need needs deserve deserves
meet meets introducing introduce introduces presenting present presents welcome welcomes
shop shopping buy buying order ordering grab grabbing choose chooses choosing select selecting browse
check visit click tap see view try tries trying wear wears wearing worn carry carries carrying use uses
using used own owning show shows showing showcase showcases showcasing flaunt flaunts express expresses
step steps stepping walk walks head heads go goes going turn turns turning catch catches
ready set move moving take takes taking hold holds holding come comes coming put puts putting feel feels feeling felt stay stays staying
keep remain remains look go
way ways thing things something everything anything nothing someone everyone anyone everybody
somebody people person friend friends family loved ones world life lifestyle moment moments time times
part kind kinds type types sort lot bit
you yourself yours self personality mood vibe vibes spirit energy attitude flair panache pizzazz
finishing attention admiration compliments compliment heads head-turning head-turner turner
new fresh first update updated hello hi hey dear thanks thank welcome cheers
real place places inspired inspiration effort effortless instantly instant right whatever wherever whenever
also together alongside ready-to-wear
reason reasons sure certainly truly absolutely definitely totally completely fully wholly
favourite-worthy worthy worth deserving timelessly
hashtag ootd ootn instafashion fashionblogger styleinspo styleinspiration outfitoftheday lookbook
shopnow newin musthave stylegoals fashionista fashiongoals instastyle
""".split()
)

# Family name -> shades. A shade in the facts backs its family name in the copy ("navy" backs "blue").
COLOUR_FAMILIES: dict[str, tuple[str, ...]] = {
    "red": ("red", "maroon", "burgundy", "wine", "crimson", "scarlet", "cherry", "ruby", "oxblood", "brick"),
    "pink": ("pink", "fuchsia", "magenta", "rose", "blush", "peach", "coral", "salmon", "mauve"),
    "orange": ("orange", "rust", "tangerine", "apricot", "saffron", "amber"),
    "yellow": ("yellow", "mustard", "lemon", "gold", "golden", "ochre"),
    "green": (
        "green",
        "olive",
        "khaki",
        "lime",
        "mint",
        "emerald",
        "sage",
        "forest",
        "bottle",
        "teal",
        "jade",
        "pista",
        "pistachio",
        "seafoam",
    ),
    "blue": (
        "blue",
        "navy",
        "teal",
        "turquoise",
        "aqua",
        "cobalt",
        "indigo",
        "denim",
        "sky",
        "azure",
        "royal",
        "powder",
        "steel",
    ),
    "purple": ("purple", "violet", "lavender", "lilac", "plum", "mauve", "aubergine", "grape", "orchid"),
    "brown": (
        "brown",
        "tan",
        "camel",
        "chocolate",
        "coffee",
        "mocha",
        "taupe",
        "rust",
        "copper",
        "bronze",
        "chestnut",
        "cognac",
        "mahogany",
        "caramel",
        "khaki",
    ),
    "beige": (
        "beige",
        "cream",
        "ivory",
        "sand",
        "nude",
        "off-white",
        "ecru",
        "champagne",
        "oatmeal",
        "tan",
        "khaki",
        "stone",
    ),
    "white": ("white", "off-white", "ivory", "cream", "snow"),
    "black": ("black", "charcoal", "jet", "onyx", "ebony"),
    "grey": ("grey", "gray", "charcoal", "slate", "silver", "ash", "graphite", "melange", "stone", "steel"),
    "multi": ("multi", "multicolour", "multicolor", "multicoloured", "multicolored", "colourful", "colorful"),
}
COLOURS = frozenset(shade for shades in COLOUR_FAMILIES.values() for shade in shades) | frozenset(
    COLOUR_FAMILIES
)
# Shades that are also ordinary words; they count as colours only next to a colour word or "colour"/"shade".
AMBIGUOUS_COLOURS = frozenset(
    "wine rose forest bottle sky royal powder steel sand stone jet ash copper bronze coffee chocolate "
    "peach lemon lime mint orange gold golden silver cream cherry brick nude amber sage grape plum "
    "caramel camel denim snow champagne oatmeal salmon tan rust".split()
)

PRODUCT_TYPES = frozenset(
    """
shirt shirts t-shirt t-shirts tshirt tee tees top tops blouse blouses tunic tunics kurta kurtas kurti kurtis
dress dresses gown gowns saree sarees sari lehenga lehengas dupatta dupattas churidar salwar palazzo palazzos
jeans jean trousers trouser pants pant chinos shorts skirt skirts leggings jeggings joggers track trackpants
jacket jackets coat coats blazer blazers hoodie hoodies sweatshirt sweatshirts sweater sweaters cardigan
cardigans vest vests waistcoat jumpsuit jumpsuits romper playsuit nightwear nightdress pyjamas pajamas
underwear briefs boxers trunks bra bras lingerie panties socks stockings swimsuit swimwear bikini
shoes shoe sneakers sneaker boots boot sandals sandal heels heel flats loafers slippers flip-flops trainers
bag bags handbag handbags backpack backpacks tote totes clutch clutches wallet wallets purse purses
trolley suitcase luggage sling satchel duffel pouch
watch watches bracelet bracelets necklace necklaces earrings earring ring rings pendant bangle bangles
anklet jewellery jewelry sunglasses glasses belt belts cap caps hat hats beanie scarf scarves stole
stoles gloves mittens tie ties cufflinks
bottle bottles cup cups mug mugs tumbler tumblers flask flasks carafe growler glass glasses jar jars
bowl bowls plate plates pan pans pot pots kettle knife knives
tent tents lamp lamps lantern chair chairs table tables bed beds sofa pillow pillows blanket blankets
towel towels rug rugs candle candles perfume fragrance deodorant lipstick cream lotion shampoo
phone phones charger headphones earphones speaker speakers camera laptop
food snack snacks enchilada enchiladas pizza coffee tea
""".split()
)

RETAILERS = frozenset(
    """
amazon flipkart myntra ajio nykaa meesho snapdeal tatacliq ebay etsy walmart target costco zara h&m
shein asos zalando aliexpress alibaba ikea bestbuy shopify instagram facebook tiktok youtube google
pinterest twitter whatsapp
""".split()
)

# Audience words: the product data's gender/age must name the same audience.
AUDIENCE = frozenset(
    """
men men's mens man man's male gents gentlemen gentleman guys guy boys boy boy's women women's womens woman
woman's female ladies lady girls girl girl's unisex kids kid kids' children child baby babies toddler
toddlers infant infants teen teens teenager teenagers
""".split()
)
# Facts that name an audience back these words in the copy.
AUDIENCE_BACKS: dict[str, tuple[str, ...]] = {
    "men": ("men", "mens", "man", "male", "gents", "gentlemen", "gentleman", "guys", "guy", "him", "his"),
    "women": ("women", "womens", "woman", "female", "ladies", "lady", "her"),
    "boys": ("boys", "boy", "kids", "kid", "children", "child"),
    "girls": ("girls", "girl", "kids", "kid", "children", "child"),
    "unisex": ("unisex", "men", "mens", "man", "women", "womens", "woman", "everyone"),
    "kids": ("kids", "kid", "children", "child"),
}

# (word, its opposite): a statement using one where the source uses the other, about the same thing.
POLAR_PAIRS: tuple[tuple[str, str], ...] = (
    ("hot", "cold"),
    ("warm", "cold"),
    ("free", "paid"),
    ("free", "fee"),
    ("free", "charge"),
    ("waterproof", "water-resistant"),
    ("yes", "no"),
    ("eligible", "ineligible"),
    ("can", "cannot"),
    ("refundable", "non-refundable"),
    ("included", "excluded"),
    ("full", "partial"),
    ("before", "after"),
    ("short", "long"),
    ("long", "short"),
    ("slim", "loose"),
    ("slim", "relaxed"),
    ("high", "low"),
    ("inside", "outside"),
    ("machine", "hand"),
    ("tumble", "line"),
    ("iron", "do-not-iron"),
    ("international", "domestic"),
    ("weekdays", "weekends"),
    ("online", "in-store"),
)

NEGATIONS = frozenset(
    "not no never none nothing cannot can't don't doesn't didn't isn't aren't won't without non".split()
)

# Spelled-out numbers checked like digits (besides "one", which is grammar as often as it is a number).
NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "thousand": 1000,
    "thousands": 1000,
    "hundreds": 100,
    "million": 1_000_000,
    "millions": 1_000_000,
    "dozen": 12,
    "dozens": 12,
    "triple": 3,
}
